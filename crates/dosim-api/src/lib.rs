//! The DigitalOcean API v2 over HTTP, served on any listener.
