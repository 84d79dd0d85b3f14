"""Reports for supervisors: daily rollups kept up to date, charts, drill-down and exports.

``definitions`` says once what each figure means (pure, over Rasa's events and counts),
``conversations`` keeps the facts of each conversation from Rasa's event broker, ``rollups``
counts the raw rows into ``report_daily`` (refresh, rebuild, check), ``charts`` reads the
rollups for the page, ``exports`` streams the orders behind a chart as CSV or XLSX and
``routes`` serves all of it behind the desk login (supervisors).
"""
