"""MIG layout recommender: the what-if page.

    streamlit run app.py [-- --db PATH]

A thin layer over the library (docs/design.md, "The job and the data flow"): the page is put
together in `recommender.page.main`, each sidebar section and tab in its own module of
`recommender.page`.
"""

from recommender.page.main import render_page

# Streamlit (`streamlit run`, and AppTest) runs this file as __main__; importing it runs nothing.
if __name__ == "__main__":
    render_page()
