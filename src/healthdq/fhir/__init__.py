"""FHIR R4: read resources, Bundles and Bulk Data NDJSON into one engine table (read.py), flatten
them with SQL-on-FHIR views, validate their structure and check them with the UK Core pack.

See docs/fhir.md.
"""
