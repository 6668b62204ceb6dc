from raigov.cli.commands import main

main()
