"""``{% console_dashboard %}``: the dashboard on the admin's index page."""

from django import template

from console import charts
from console.dashboard import dashboard_build

register = template.Library()


@register.inclusion_tag("console/dashboard.html", takes_context=True)
def console_dashboard(context):
    request = context["request"]
    return {"dashboard": dashboard_build(user=request.user), "request": request}


@register.inclusion_tag("console/svg_chart.html")
def svg_chart(chart):
    return {"chart": chart}


@register.filter
def status_colour(status):
    return charts.status_colour(str(status))
