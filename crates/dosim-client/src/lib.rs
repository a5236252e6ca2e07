//! A typed async client for the DigitalOcean API v2, with a pluggable transport.
