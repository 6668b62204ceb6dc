from raigov.cli.commands import main

if __name__ == "__main__":   # not when a --jobs worker (spawn) imports the main module
    main()
