use super::*;

#[test]
fn params_default_and_bound() {
    let none = |_: &str| None;
    assert_eq!(RealtimeParams::parse(none), Ok(RealtimeParams::default()));
    let get = |pairs: &'static [(&'static str, &'static str)]| {
        move |name: &str| pairs.iter().find(|(k, _)| *k == name).map(|(_, v)| *v)
    };
    assert_eq!(
        RealtimeParams::parse(get(&[("minutes", "30"), ("limit", "100"), ("events", "0")])),
        Ok(RealtimeParams {
            minutes: 30,
            limit: 100,
            events: 0
        })
    );
    for (field, bad) in [
        ("minutes", "0"),
        ("minutes", "31"),
        ("limit", "0"),
        ("limit", "101"),
        ("events", "101"),
        ("minutes", "five"),
        ("limit", "-1"),
    ] {
        let pairs: &'static [(&'static str, &'static str)] = Box::leak(Box::new([(field, bad)]));
        assert_eq!(
            RealtimeParams::parse(get(pairs)).unwrap_err().field,
            field,
            "{field}={bad}"
        );
    }
}
