"""The results page (issue 31): one self-contained HTML file from the results store, and `serve`, which shows
the same page live.

filters.py  which stored records the page is about (--device, --artifact/--within, --family, --since)
budgets.py  pick's answer for every budget, precomputed at the budgets where it changes (the one Python pick)
data.py     the page's data as typed records: per device the rows, the front, the answers, each file's history
figures.py  the plotly figures (front, history, devices side by side) as plain JSON-able dicts
page.py     the HTML: plotly inlined, the data as escaped JSON, every store text shown as text
serve.py    a read-only HTTP server of the page: loopback, or a token on any other address
"""
