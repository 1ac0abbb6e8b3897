use super::*;

#[test]
fn user_agents_are_unique_per_visitor_and_look_like_browsers() {
    for (browser, _) in BROWSERS {
        let (a, b) = (browser.user_agent(1234), browser.user_agent(1235));
        assert_ne!(a, b);
        assert!(a.starts_with("Mozilla/5.0 ("), "{a}");
        let lower = a.to_lowercase();
        for word in ["bot", "crawl", "spider", "headless", "python", "curl"] {
            assert!(!lower.contains(word), "{a} contains {word}");
        }
        let mobile_token = a.contains("Mobile");
        match browser.device {
            Device::Desktop => assert!(!mobile_token, "{a}"),
            Device::Mobile => assert!(mobile_token, "{a}"),
            Device::Tablet => assert!(a.contains("iPad") || !mobile_token, "{a}"),
        }
    }
}

#[test]
fn weights_are_positive() {
    assert!(PAGES.iter().all(|(_, w)| *w > 0));
    assert!(REFERRERS.iter().all(|(_, w)| *w > 0));
    assert!(COUNTRIES.iter().all(|(_, w)| *w > 0));
    assert!(BROWSERS.iter().all(|(_, w)| *w > 0));
    assert!(OUTBOUND_LINKS.iter().all(|(_, w)| *w > 0));
}

#[test]
fn pick_follows_weights() {
    let mut rng = fastrand::Rng::with_seed(7);
    let items = [("rare", 1), ("common", 9)];
    let common = (0..10_000).filter(|_| *pick(&mut rng, &items) == "common").count();
    assert!((8_500..9_500).contains(&common), "{common}");
}

#[test]
fn hits_match_the_wire_format() {
    let mut rng = fastrand::Rng::with_seed(1);
    let visitor = Visitor::new(&mut rng, 42);
    let url = format!("{DEMO_ORIGIN}/pricing");
    let view = pageview_hit("demo", &visitor, &url, &PAGES[1].0, None);
    assert_eq!(view["e"], "pageview");
    assert_eq!(view["u"], "http://localhost:8080/pricing");
    assert!(view.get("r").is_none() && view.get("p").is_none());
    assert!(view["sw"].is_u64() && view["sh"].is_u64() && view["sid"].is_string());
    let event = event_hit("demo", &visitor, &url, "add_to_cart", Some(29.0));
    assert_eq!(event["p"], json!({ "name": "add_to_cart", "value": 29.0 }));
    let out = outbound_hit("demo", &visitor, &url, OUTBOUND_LINKS[0].0);
    assert_eq!(out["p"]["url"], "https://github.com/tokio-rs/tokio");
}

#[test]
fn collect_url_is_plain_http_under_base() {
    assert_eq!(
        collect_url("http://127.0.0.1:3000/").map(String::from),
        Ok("http://127.0.0.1:3000/collect".to_owned())
    );
    assert!(collect_url("https://example.com").is_err());
    assert!(collect_url("not a url").is_err());
}

#[test]
fn rates_are_bounded() {
    assert_eq!(rate("60"), Ok(60.0));
    assert!(rate("0").is_err() && rate("-1").is_err() && rate("1e9").is_err());
    assert!(speed("NaN").is_err());
}
