# SPDX-License-Identifier: GPL-2.0
# Sphinx configuration for zonemm's documentation (make htmldocs).
project = 'zonemm'
author = 'zonemm developers'
root_doc = 'index'
extensions = []
exclude_patterns = ['results/*.md', 'results/*.json']
html_theme = 'alabaster'
