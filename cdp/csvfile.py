"""CSV writing for every file the project hands out (segment members, analytics tables).

Values come from customers (external ids, property values sent with a public key), and a
spreadsheet runs a cell that starts with ``=``, ``+``, ``-``, ``@`` as a formula. ``defusedcsv``
prefixes such cells with ``'`` (OWASP's rule; numbers such as ``-5`` or ``1,5`` stay numbers).
It leaves a leading tab or carriage return alone, which OWASP lists too, so those are
prefixed here before defusedcsv sees them.
"""

from defusedcsv import csv as defusedcsv

_CONTROL_STARTS = ("\t", "\r")


def _escape_controls(value):
    if isinstance(value, str) and value.startswith(_CONTROL_STARTS):
        return "'" + value
    return value


class _Writer:
    def __init__(self, out, **fmtparams) -> None:
        self._writer = defusedcsv.writer(out, **fmtparams)

    def writerow(self, row):
        return self._writer.writerow([_escape_controls(value) for value in row])

    def writerows(self, rows) -> None:
        for row in rows:
            self.writerow(row)


def writer(out, **fmtparams) -> _Writer:
    """Return a ``csv.writer`` over ``out`` whose cells cannot start a spreadsheet formula."""
    return _Writer(out, **fmtparams)
