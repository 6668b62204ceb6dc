"""The model page's sections, one module each, each with ``draw(view)``. Like the
pages, they only draw: the figures come from :mod:`raigov.dashboard.queries`."""
