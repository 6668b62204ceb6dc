"""The raigov dashboard: a Streamlit app behind a sign-in.

``dashboard/app.py`` builds the navigation; ``app_pages/`` hold one module per page and
only draw; ``queries`` holds the cached reads, ``views`` shapes what they read,
``actions`` changes things (checking the signed-in user's role where it runs),
``charts`` builds the plotly figures and ``auth`` handles sign-in and sessions.
"""
