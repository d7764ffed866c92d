//! Services: the domain work routes call once a request is parsed and its
//! caller known. A route parses, calls a service, renders.

pub mod fanout;
pub mod feed_action;
pub mod idempotent;
pub mod member_view;
pub mod replay;
pub mod trigger;
