//! Event format files (`events/SYS/EVENT/format`), `header_page` and
//! `header_event`, parsed into schemas that decode event payloads.
