use super::*;

const CHROME_WINDOWS: &str =
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36";
const SAFARI_IPHONE: &str = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1";
const SAFARI_IPAD: &str = "Mozilla/5.0 (iPad; CPU OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1";
const CHROME_ANDROID_TABLET: &str =
    "Mozilla/5.0 (Linux; Android 14; SM-X710) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36";
const FIREFOX_LINUX: &str = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0";

#[test]
fn classifies_devices_browsers_and_systems() {
    let info = |ua| classify_user_agent(ua).expect("a person");
    let chrome = info(CHROME_WINDOWS);
    assert_eq!(chrome.device, "desktop");
    assert_eq!(chrome.browser.as_deref(), Some("Chrome"));
    assert_eq!(chrome.os.as_deref(), Some("Windows 10"));
    let iphone = info(SAFARI_IPHONE);
    assert_eq!((iphone.device, iphone.browser.as_deref()), ("mobile", Some("Safari")));
    assert_eq!(info(SAFARI_IPAD).device, "tablet");
    assert_eq!(info(CHROME_ANDROID_TABLET).device, "tablet");
    assert_eq!(info(FIREFOX_LINUX).browser.as_deref(), Some("Firefox"));
    // Neither a bot nor a browser woothee knows (a bare "something odd" is a bot: a name with no
    // version or comment is what scripts send).
    let playstation = "Mozilla/5.0 (PlayStation; PlayStation 5/2.26) AppleWebKit/605.1.15 (KHTML, like Gecko)";
    assert_eq!(info(playstation).device, "other");
}

#[test]
fn drops_bots_and_headless_browsers_but_not_people() {
    for bot in [
        "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
        "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/131.0.0.0 Safari/537.36",
        "curl/8.5.0",
        "python-requests/2.32.3",
        "Go-http-client/1.1",
        "Go-http-client/2.0",
        "Mozilla/5.0 (Linux; Android 11; moto g power (2022)) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36 Chrome-Lighthouse",
        "",
        "   ",
    ] {
        assert_eq!(classify_user_agent(bot), None, "{bot}");
    }
    for person in [CHROME_WINDOWS, SAFARI_IPHONE, SAFARI_IPAD, FIREFOX_LINUX] {
        assert!(classify_user_agent(person).is_some(), "{person}");
    }
}

/// Agents that fetch a page because someone shares, watches, subscribes to or archives it. Each group
/// starts with well-known ones, then those the 2022 list (isbot crate 0.1.3) counted as visitors.
#[test]
fn drops_link_previewers_monitors_feed_readers_and_archivers() {
    for bot in [
        // Link previews
        "Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)",
        "Twitterbot/1.0",
        "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)",
        "Mozilla/5.0 (compatible; Discordbot/2.0; +https://discordapp.com)",
        "LinkedInBot/1.0 (compatible; Mozilla/5.0; Apache-HttpClient +http://www.linkedin.com)",
        "TelegramBot (like TwitterBot)",
        "WhatsApp/2.23.20.0",
        "WhatsApp/2.16.2/i",
        "Valve/Steam HTTP Client 1.0 (SteamChatURLLookup)",
        "Discourse Forum Onebox v3.3.0.beta1-dev",
        "Chatwork LinkPreview v1",
        "github-camo (c006e452)",
        "meta-externalagent/1.1",
        "Tumblr/14.0.835.186",
        // Uptime, performance and synthetic monitors
        "Mozilla/5.0 (compatible; UptimeRobot/2.0; http://www.uptimerobot.com/)",
        "Mozilla/5.0 (compatible; pingbot/2.0; +http://www.pingdom.com/)",
        "Uptime-Kuma/1.23.11",
        "updown.io daemon 2.11",
        "NodePing",
        "cron-job.org monitor",
        "Datadog Synthetic",
        "RuxitSynthetic/1.0",
        "Mozilla/5.0 (compatible; Uptimia; www.uptimia.com)",
        "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/117.0.0.0 Safari/537.36 GTmetrix",
        // Feed readers and read-later services
        "Feedly/1.0 (+http://www.feedly.com/fetcher.html; like FeedFetcher-Google)",
        "Mozilla/5.0 (compatible; inoreader.com; 1 subscribers)",
        "Tiny Tiny RSS/22.08 (https://tt-rss.org/)",
        "Feeder / 1.10.8(88)",
        "FeedFlow/1.0",
        "OpenRSS",
        "Mozilla/5.0 (feeder.co; Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/106.0.0.0 Safari/537.36",
        "Instapaper/4.0Instaparser/1.0",
        // Archivers
        "ia_archiver (+http://www.alexa.com/site/help/webmasters; crawler@alexa.com)",
        "Mozilla/5.0 (compatible; archive.org_bot +http://archive.org/details/archive.org_bot)",
        "Mozilla/5.0 (compatible; heritrix/3.2.0 +http://www.mixdata.com)",
        "UM-Bentley-Archive-It",
        "Library Of Congress Web Archiving",
    ] {
        assert_eq!(classify_user_agent(bot), None, "{bot}");
    }
}

/// People whose User-Agents come close to a bot rule: a phone brand ending in "bot", Google's and
/// Facebook's apps, in-app browsers, WebViews.
#[test]
fn keeps_people_whose_agents_look_like_bots() {
    for person in [
        "Mozilla/5.0 (Linux; Android 12; CUBOT KINGKONG 7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.6099.144 Mobile Safari/537.36",
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) GSA/321.0.642231021 Mobile/15E148 Safari/604.1",
        "Mozilla/5.0 (Linux; Android 14; Pixel 8 Build/AP2A.240805.005; wv) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/127.0.6533.103 Mobile Safari/537.36 GoogleApp/15.31.36.29.arm64",
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148 [FBAN/FBIOS;FBAV/442.0.0.42.106;FBBV/543617498;FBDV/iPhone14,5;FBMD/iPhone;FBSN/iOS;FBSV/17.1.2;FBSS/3;FBID/phone;FBLC/en_US;FBOP/5;FBRV/545046613]",
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148 Instagram 309.0.2.24.108 (iPhone14,2; iOS 17_1; en_US; en; scale=3.00; 1170x2532; 537288532)",
        "Mozilla/5.0 (Linux; Android 14; SAMSUNG SM-S921B) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/24.0 Chrome/117.0.0.0 Mobile Safari/537.36",
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/122.0.0.0 YaBrowser/24.4.0.0 Safari/537.36",
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0",
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36 OPR/115.0.0.0",
    ] {
        assert!(classify_user_agent(person).is_some(), "{person}");
    }
}

#[test]
fn self_referrals_are_no_referrer() {
    let own = |host: &str| host == "example.com";
    let from = |u: &str| referrer_host(Some(&Url::parse(u).unwrap()), own);
    assert_eq!(
        from("https://news.ycombinator.com/item?id=1").as_deref(),
        Some("news.ycombinator.com")
    );
    assert_eq!(from("https://example.com/other"), None);
    assert_eq!(from("android-app://com.google.android.gm/"), None);
    assert_eq!(referrer_host(None, own), None);
}

#[test]
fn outbound_urls_keep_scheme_host_and_path() {
    let link = "https://other.example/x?token=abc&email=a@b.c#frag";
    assert_eq!(outbound_url(link, false), "https://other.example/x");
    // Opted in: the query stays, the fragment does not.
    assert_eq!(
        outbound_url(link, true),
        "https://other.example/x?token=abc&email=a@b.c"
    );
    for keep in [false, true] {
        assert_eq!(
            outbound_url("https://me:secret@other.example/x", keep),
            "https://other.example/x"
        );
        assert_eq!(
            outbound_url("http://other.example:8080/a/b#top", keep),
            "http://other.example:8080/a/b"
        );
        // An encoded `?` is part of the path.
        assert_eq!(
            outbound_url("https://other.example/a%3Fb?c=1", keep),
            if keep {
                "https://other.example/a%3Fb?c=1"
            } else {
                "https://other.example/a%3Fb"
            }
        );
    }
    assert_eq!(outbound_url("https://github.com/x", false), "https://github.com/x");
    assert_eq!(
        outbound_url("https://other.example/x?", false),
        "https://other.example/x"
    );
    assert_eq!(outbound_url("not a url?x=1#y", false), "not a url");
    assert_eq!(outbound_url("not a url?x=1#y", true), "not a url?x=1");
}

proptest::proptest! {
    /// Whatever the link, no query (unless kept), fragment or password survives, and reducing twice
    /// changes nothing.
    #[test]
    fn outbound_urls_never_keep_a_fragment_or_credentials(
        link in "(https?://)?([a-z]{1,8}(:[a-z]{0,4})?@)?[a-z.]{1,12}(:[0-9]{1,5})?(/[a-z?#%=&.]{0,8}){0,3}([?][a-z=&#]{0,12})?",
        keep: bool,
    ) {
        let reduced = outbound_url(&link, keep);
        proptest::prop_assert!(!reduced.contains('#'), "{}", reduced);
        proptest::prop_assert!(keep || !reduced.contains('?'), "{}", reduced);
        if let Ok(url) = Url::parse(&reduced) {
            proptest::prop_assert!(url.password().is_none() && url.username().is_empty(), "{}", reduced);
        }
        proptest::prop_assert_eq!(outbound_url(&reduced, keep), reduced);
    }
}

#[test]
fn reads_campaign_parameters() {
    let url = Url::parse("https://example.com/?utm_source=news&utm_medium=email&utm_campaign=launch%20day").unwrap();
    let found = campaign(&url);
    assert_eq!(found.source.as_deref(), Some("news"));
    assert_eq!(found.medium.as_deref(), Some("email"));
    assert_eq!(found.campaign.as_deref(), Some("launch day"));
    assert_eq!(
        campaign(&Url::parse("https://example.com/").unwrap()),
        Campaign::default()
    );
}

#[test]
fn country_codes_are_validated() {
    assert_eq!(country(Some("de")).as_deref(), Some("DE"));
    assert_eq!(country(Some("XX")), None);
    assert_eq!(country(Some("T1")), None);
    assert_eq!(country(Some("USA")), None);
    assert_eq!(country(None), None);
}

#[test]
fn visitor_id_depends_on_salt_site_ip_and_agent() {
    let salt = Salt::random();
    let ip: IpAddr = "203.0.113.7".parse().unwrap();
    let base = visitor_id(&salt, "s", ip, "ua");
    assert_eq!(base.len(), 32);
    assert_eq!(base, visitor_id(&salt, "s", ip, "ua"));
    assert_ne!(base, visitor_id(&Salt::random(), "s", ip, "ua"));
    assert_ne!(base, visitor_id(&salt, "t", ip, "ua"));
    assert_ne!(base, visitor_id(&salt, "s", "203.0.113.8".parse().unwrap(), "ua"));
    assert_ne!(base, visitor_id(&salt, "s", ip, "ub"));
    // The id is the keyed hash alone, not the address in any form (a 3-digit fragment such as "203"
    // can occur in 32 random hex digits, so the check is for the whole address).
    assert!(!base.contains("203.0.113.7") && !base.contains("cb007107"));
    assert_eq!(Salt::from_hex(&salt.to_hex()), Some(salt));
}
