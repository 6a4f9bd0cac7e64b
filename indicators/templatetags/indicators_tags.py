from django import template
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from indicators.tables import ShownRow, Table, shown_value

register = template.Library()


@register.simple_tag
def table_body(table: Table) -> SafeString:
    """The table's rows, each cell as ``shown`` writes it. Built here rather than by the
    template's loops: a month of 150 readers is some 4,000 cells, and the loops took a fifth
    of the page's time (docs/indicators.md, "Speed")."""
    return format_html_join("\n", "{}", ((_row(row),) for row in table.shown_rows()))


def _row(row: ShownRow) -> SafeString:
    (first, first_value), *rest = row.cells
    cells = format_html_join(
        "",
        '<td class="indicator-{}">{}</td>',
        ((column.kind, shown_value(column.kind, value)) for column, value in rest),
    )
    return format_html(
        '<tr{}><th scope="row">{}</th>{}</tr>',
        format_html(' class="{}"', "indicator-row--marked") if row.marked else "",
        shown_value(first.kind, first_value),
        cells,
    )
