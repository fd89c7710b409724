"""Helpers of the integration suite: processes, httpd, backends, moto, HTTP client, log scan."""
