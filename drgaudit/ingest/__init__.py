"""Reading input files (CSV, JSONL, XLSX) into canonical records: the first layer of the data flow.

Nothing here touches the database or the rules: `readers` turns a file into raw rows, `rows` checks
and converts them against `drgaudit.contract`. The casebook stores what comes out; the engine's
rule examples use the same conversion.
"""
