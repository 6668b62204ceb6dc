"""What the pages show, shaped from the other packages' APIs: plain functions over
frames and objects, no Streamlit (so they are tested without a page). The cached
wrappers in :mod:`raigov.dashboard.queries` call them."""
