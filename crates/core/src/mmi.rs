//! 8/MMI: the Majordomo Management Interface, services named `mmi.*`
//! that the broker answers itself.

/// The prefix of every MMI service name.
pub const PREFIX: &[u8] = b"mmi.";

/// True when `service` is reserved for MMI.
pub fn is_mmi(service: &[u8]) -> bool {
    service.starts_with(PREFIX)
}

/// The status code answering a request to MMI service `service` whose
/// first body frame is `first`: `mmi.service` answers "200" when the
/// named service has a worker (`has_workers` says) and "404" when not;
/// any other MMI service is "501" (not implemented).
pub fn answer(
    service: &[u8],
    first: &[u8],
    has_workers: impl FnOnce(&[u8]) -> bool,
) -> &'static str {
    match service {
        b"mmi.service" if has_workers(first) => "200",
        b"mmi.service" => "404",
        _ => "501",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn service_lookup_and_not_implemented() {
        assert!(is_mmi(b"mmi.service"));
        assert!(!is_mmi(b"echo"));
        assert_eq!(answer(b"mmi.service", b"echo", |s| s == b"echo"), "200");
        assert_eq!(answer(b"mmi.service", b"nope", |s| s == b"echo"), "404");
        assert_eq!(answer(b"mmi.echo", b"echo", |_| true), "501");
    }
}
