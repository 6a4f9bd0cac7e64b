"""A test RIS, for demonstrations, tests and benchmarks only: it plays a site's radiology
information system on this machine. It sends synthetic orders (``orders``), takes results back
over a real MLLP socket and acknowledges them (``receiver``), runs inside `manage.py serve` for the
demo sites (``embedded``), and as `manage.py ris_simulator`.

Nothing in the product depends on it: the core and the adapters never import it, and a real
deployment's RIS is each site's own.
"""
