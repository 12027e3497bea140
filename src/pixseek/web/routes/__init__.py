"""One router per resource: pages (HTML), search (JSON), images (files, thumbnails), ops."""
