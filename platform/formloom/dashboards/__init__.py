"""Dashboards: documents (dashboards/*.json in an app) whose widgets are measures
compiled to SQL under the viewer's data scope.

    checks.validate_dashboard(doc, app_doc, workflows, source) -> [Problem]
    model.compile_dashboard(doc) -> DashboardDef
    catalog.visible_dashboards(conn, actor, app, version_id) -> [DashboardDef]
    measures.run_widget(Viewer(...), widget) -> WidgetData
    periods.resolve_period(key, today, zone) -> Period
"""
