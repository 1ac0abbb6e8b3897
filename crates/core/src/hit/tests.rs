use super::*;

fn parse(json: &str) -> Result<ValidHit, HitError> {
    parse_from(json, None)
}

fn parse_from(json: &str, page_header: Option<&str>) -> Result<ValidHit, HitError> {
    match ParsedHit::parse(json.as_bytes(), page_header)? {
        ParsedHit::Track(hit) => Ok(hit),
        ParsedHit::Heatmap => panic!("a heatmap hit"),
    }
}

fn field_of(json: &str) -> Option<String> {
    parse(json).expect_err("should be rejected").field
}

/// DynamoDB stores magnitudes from 1e-130 up to (not including) 1e126: anything else is the client's
/// error, named by its field, never a failed write.
#[test]
fn numbers_outside_dynamodbs_range_are_refused_by_field() {
    let event = |extra: &str| format!(r#"{{"s":"demo","e":"event","u":"https://example.com/","en":"buy",{extra}}}"#);
    for bad in ["1e126", "-1e126", "1e-131", "-2.5e-200", "9.99e200"] {
        assert_eq!(
            field_of(&event(&format!(r#""ev":{bad}"#))).as_deref(),
            Some("ev"),
            "{bad}"
        );
        let in_props =
            format!(r#"{{"s":"demo","e":"event","u":"https://example.com/","p":{{"name":"buy","value":{bad}}}}}"#);
        assert_eq!(field_of(&in_props).as_deref(), Some("p.value"), "{bad}");
        assert_eq!(
            field_of(&event(&format!(r#""p":{{"seats":{bad}}}"#))).as_deref(),
            Some("p.seats"),
            "{bad}"
        );
    }
    for good in ["0", "-0.0", "9.99e125", "-9.99e125", "1.5e-130", "49.5"] {
        let hit =
            parse(&event(&format!(r#""ev":{good},"p":{{"n":{good}}}"#))).unwrap_or_else(|e| panic!("{good}: {e:?}"));
        let EventDetail::Event { value: Some(value), .. } = hit.detail else {
            panic!("an event with a value")
        };
        let expected: f64 = good.parse().unwrap();
        // serde_json's fast float parsing may be one ulp off the exact value.
        assert!((value - expected).abs() <= expected.abs() * 1e-15, "{good}: {value}");
        assert_eq!(hit.props["n"], PropValue::Number(value));
    }
}

#[test]
fn minimal_pageview() {
    let hit = parse(r#"{"s":"demo","e":"pageview","u":"https://example.com/a?b=1#c"}"#).unwrap();
    assert_eq!(hit.site.as_str(), "demo");
    assert_eq!(hit.detail, EventDetail::Pageview);
    assert_eq!(hit.url.path(), "/a");
    assert!(hit.props.is_empty());
}

#[test]
fn custom_event_splits_name_value_and_props() {
    let hit = parse(
        r#"{"s":"demo","e":"event","u":"https://example.com/","p":{"name":"signup","value":9.5,"plan":"pro","seats":3,"trial":true}}"#,
    )
    .unwrap();
    assert_eq!(
        hit.detail,
        EventDetail::Event {
            name: "signup".into(),
            value: Some(9.5)
        }
    );
    assert_eq!(hit.props.len(), 3);
    assert_eq!(hit.props["plan"], PropValue::Text("pro".into()));
    assert_eq!(hit.props["seats"], PropValue::Number(3.0));
    assert_eq!(hit.props["trial"], PropValue::Bool(true));
}

#[test]
fn body_level_errors_have_no_field() {
    assert_eq!(parse("not json").unwrap_err().field, None);
    assert_eq!(parse("[1,2]").unwrap_err().field, None);
    assert_eq!(parse("\"s\"").unwrap_err().field, None);
}

#[test]
fn each_invalid_field_is_named() {
    let u = r#""u":"https://example.com/""#;
    assert_eq!(field_of(&format!(r#"{{"e":"pageview",{u}}}"#)).as_deref(), Some("s"));
    assert_eq!(
        field_of(&format!(r#"{{"s":"a#b","e":"pageview",{u}}}"#)).as_deref(),
        Some("s")
    );
    assert_eq!(
        field_of(&format!(r#"{{"s":7,"e":"pageview",{u}}}"#)).as_deref(),
        Some("s")
    );
    assert_eq!(
        field_of(&format!(r#"{{"s":"a","e":"click",{u}}}"#)).as_deref(),
        Some("e")
    );
    assert_eq!(field_of(r#"{"s":"a","e":"pageview"}"#).as_deref(), Some("u"));
    assert_eq!(
        field_of(r#"{"s":"a","e":"pageview","u":"javascript:alert(1)"}"#).as_deref(),
        Some("u")
    );
    assert_eq!(
        field_of(r#"{"s":"a","e":"pageview","u":"ftp://example.com/x"}"#).as_deref(),
        Some("u")
    );
    assert_eq!(
        field_of(r#"{"s":"a","e":"pageview","u":"/relative"}"#).as_deref(),
        Some("u")
    );
    let long_url = format!(
        r#"{{"s":"a","e":"pageview","u":"https://example.com/{}"}}"#,
        "x".repeat(2048)
    );
    assert_eq!(field_of(&long_url).as_deref(), Some("u"));
    assert_eq!(
        field_of(&format!(r#"{{"s":"a","e":"pageview",{u},"r":"nope"}}"#)).as_deref(),
        Some("r")
    );
    let long_title = format!(r#"{{"s":"a","e":"pageview",{u},"t":"{}"}}"#, "t".repeat(301));
    assert_eq!(field_of(&long_title).as_deref(), Some("t"));
    assert_eq!(
        field_of(&format!(r#"{{"s":"a","e":"pageview",{u},"sw":-1}}"#)).as_deref(),
        Some("sw")
    );
    assert_eq!(
        field_of(&format!(r#"{{"s":"a","e":"pageview",{u},"sh":1.5}}"#)).as_deref(),
        Some("sh")
    );
    assert_eq!(
        field_of(&format!(r#"{{"s":"a","e":"pageview",{u},"id":"a#b"}}"#)).as_deref(),
        Some("id")
    );
    assert_eq!(
        field_of(&format!(r#"{{"s":"a","e":"event",{u}}}"#)).as_deref(),
        Some("p.name")
    );
    assert_eq!(
        field_of(&format!(
            r#"{{"s":"a","e":"event",{u},"p":{{"name":"x","value":"1"}}}}"#
        ))
        .as_deref(),
        Some("p.value")
    );
    assert_eq!(
        field_of(&format!(r#"{{"s":"a","e":"event",{u},"p":{{"name":"x","k":{{}}}}}}"#)).as_deref(),
        Some("p.k")
    );
    assert_eq!(
        field_of(&format!(r#"{{"s":"a","e":"outbound",{u}}}"#)).as_deref(),
        Some("p.url")
    );
    assert_eq!(
        field_of(&format!(
            r#"{{"s":"a","e":"outbound",{u},"p":{{"url":"mailto:x@y.z"}}}}"#
        ))
        .as_deref(),
        Some("p.url")
    );
}

#[test]
fn at_most_ten_extra_props() {
    let props: Vec<String> = (0..11).map(|i| format!(r#""k{i}":{i}"#)).collect();
    let json = format!(
        r#"{{"s":"a","e":"event","u":"https://example.com/","p":{{"name":"n",{}}}}}"#,
        props.join(",")
    );
    assert_eq!(field_of(&json).as_deref(), Some("p"));
    let ten = format!(
        r#"{{"s":"a","e":"event","u":"https://example.com/","p":{{"name":"n",{}}}}}"#,
        props[..10].join(",")
    );
    assert_eq!(parse(&ten).unwrap().props.len(), 10);
}

#[test]
fn unknown_top_level_fields_are_ignored() {
    assert!(parse(r#"{"s":"a","e":"pageview","u":"https://example.com/","x":{"y":1}}"#).is_ok());
}

/// The shapes ts-analytics' trackers send, each as the tracker builds it.
#[test]
fn ts_analytics_shapes() {
    let minimal = parse(
        r#"{"s":"demo","sid":"x1","e":"pageview","u":"https://example.com/a","r":"","t":"A","sw":1440,"sh":900}"#,
    )
    .unwrap();
    assert_eq!(
        (&minimal.detail, minimal.referrer.is_none()),
        (&EventDetail::Pageview, true)
    );
    let full = parse(r#"{"s":"demo","sid":"x1","e":"pageview","u":"https://example.com/a","r":null,"t":"A","sw":1,"sh":1,"ts":1760000000000,"p":{"path":"/a","title":"A"}}"#).unwrap();
    assert!(full.props.is_empty(), "path and title are not properties");
    let virtual_page = parse(r#"{"s":"demo","e":"pageview","u":"https://example.com/app?x=1","p":{"path":"/app/step-2?y=2","title":"Step 2"}}"#).unwrap();
    assert_eq!(virtual_page.url.path(), "/app/step-2");
    assert_eq!(virtual_page.url.host_str(), Some("example.com"));

    let event = parse(r#"{"s":"demo","sid":"x1","e":"event","u":"https://example.com/a","en":"signup","ec":"forms","ev":10,"p":{"plan":"pro","name":"Bob"}}"#).unwrap();
    assert_eq!(
        event.detail,
        EventDetail::Event {
            name: "signup".into(),
            value: Some(10.0)
        }
    );
    assert_eq!(event.props["category"], PropValue::Text("forms".into()));
    assert_eq!(
        event.props["name"],
        PropValue::Text("Bob".into()),
        "en wins; p.name stays a property"
    );

    let outbound = parse(r#"{"s":"demo","e":"event","u":"https://example.com/a","en":"outbound_click","ec":"outbound","p":{"url":"https://github.com/x","text":"GitHub","hostname":"github.com"}}"#).unwrap();
    assert_eq!(
        outbound.detail,
        EventDetail::Outbound {
            url: "https://github.com/x".into()
        }
    );
    assert_eq!(outbound.props.keys().collect::<Vec<_>>(), ["text"]);

    let engagement = parse(r#"{"s":"demo","e":"event","u":"https://example.com/a","en":"scroll_depth","ec":"engagement","ev":75,"p":{"depth":75}}"#).unwrap();
    assert_eq!(
        engagement.detail,
        EventDetail::Event {
            name: "scroll_depth".into(),
            value: Some(75.0)
        }
    );

    for heatmap in ["hm_click", "hm_move", "hm_scroll"] {
        let body = format!(r#"{{"s":"demo","sid":"x","e":"{heatmap}","u":"/a","p":{{"x":1,"y":2}}}}"#);
        assert_eq!(ParsedHit::parse(body.as_bytes(), None), Ok(ParsedHit::Heatmap));
    }
    assert_eq!(
        field_of(r#"{"s":"demo","e":"event","u":"https://example.com/","en":"x","ev":"1"}"#).as_deref(),
        Some("ev")
    );
}

/// GA4-style `gtag('event', …)` sends no `u`: the page comes from the Referer, or the Origin.
#[test]
fn a_hit_without_u_takes_its_page_from_the_request() {
    let gtag = r#"{"s":"demo","e":"event","en":"purchase","p":{"currency":"EUR"}}"#;
    let from_referer = parse_from(gtag, Some("https://example.com/cart?step=2")).unwrap();
    assert_eq!((from_referer.url.path(), from_referer.path_known), ("/cart", true));
    let from_origin = parse_from(gtag, Some("https://example.com")).unwrap();
    assert_eq!(
        (from_origin.url.host_str(), from_origin.path_known),
        (Some("example.com"), false)
    );
    assert!(!parse_from(gtag, Some("https://example.com/")).unwrap().path_known);
    assert_eq!(parse_from(gtag, None).unwrap_err().field.as_deref(), Some("u"));
    assert_eq!(parse_from(gtag, Some("null")).unwrap_err().field.as_deref(), Some("u"));
}
