//! The demo site and its audience. Weights are relative; each table is non-empty.

#[derive(Debug, PartialEq)]
pub(crate) struct Page {
    pub(crate) path: &'static str,
    pub(crate) title: &'static str,
}

pub(crate) const PAGES: &[(Page, u32)] = &[
    (page("/", "Pulse Demo: realtime web analytics"), 30),
    (page("/pricing", "Pricing · Pulse Demo"), 12),
    (page("/docs", "Documentation · Pulse Demo"), 10),
    (page("/docs/getting-started", "Getting started · Pulse Demo"), 9),
    (page("/blog", "Blog · Pulse Demo"), 6),
    (
        page(
            "/blog/realtime-analytics-in-rust",
            "Realtime analytics in Rust · Pulse Demo",
        ),
        8,
    ),
    (page("/signup", "Sign up · Pulse Demo"), 6),
    (page("/about", "About · Pulse Demo"), 4),
    (page("/changelog", "Changelog · Pulse Demo"), 4),
];

pub(crate) const fn page(path: &'static str, title: &'static str) -> Page {
    Page { path, title }
}

/// `None` is a direct visit (typed URL, bookmark).
pub(crate) const REFERRERS: &[(Option<&str>, u32)] = &[
    (None, 30),
    (Some("https://www.google.com/"), 25),
    (Some("https://news.ycombinator.com/"), 15),
    (Some("https://www.reddit.com/r/rust/"), 10),
    (Some("https://twitter.com/"), 8),
    (Some("https://github.com/"), 8),
];

pub(crate) const COUNTRIES: &[(&str, u32)] = &[
    ("US", 30),
    ("DE", 10),
    ("GB", 9),
    ("IN", 9),
    ("FR", 7),
    ("BR", 6),
    ("JP", 5),
    ("CA", 5),
    ("NL", 4),
    ("ES", 4),
    ("IT", 3),
    ("AU", 3),
    ("SE", 2),
    ("PL", 2),
];

pub(crate) const OUTBOUND_LINKS: &[(&str, u32)] = &[
    ("https://github.com/tokio-rs/tokio", 3),
    ("https://github.com/rust-lang/rust", 2),
    ("https://github.com/awslabs/aws-lambda-rust-runtime", 3),
    ("https://github.com/serde-rs/json", 1),
];

#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Device {
    Desktop,
    Mobile,
    Tablet,
}

/// A real browser's User-Agent split around its last version component, which carries the
/// visitor's serial number: the string stays unique per visitor and parses as the same browser.
pub(crate) struct Browser {
    pub(crate) device: Device,
    pub(crate) before: &'static str,
    pub(crate) after: &'static str,
}

pub(crate) const BROWSERS: &[(Browser, u32)] = &[
    (
        browser(
            Device::Desktop,
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) \
             Chrome/131.0.6778.",
            " Safari/537.36",
        ),
        30,
    ),
    (
        browser(
            Device::Desktop,
            "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) \
             Chrome/131.0.6778.",
            " Safari/537.36",
        ),
        8,
    ),
    (
        browser(
            Device::Desktop,
            "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 \
             (KHTML, like Gecko) Version/18.1.",
            " Safari/605.1.15",
        ),
        10,
    ),
    (
        browser(
            Device::Desktop,
            "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0.",
            "",
        ),
        5,
    ),
    (
        browser(
            Device::Desktop,
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0.",
            "",
        ),
        4,
    ),
    (
        browser(
            Device::Desktop,
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) \
             Chrome/131.0.0.0 Safari/537.36 Edg/131.0.2903.",
            "",
        ),
        7,
    ),
    (
        browser(
            Device::Mobile,
            "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 \
             (KHTML, like Gecko) Version/18.1.",
            " Mobile/15E148 Safari/604.1",
        ),
        16,
    ),
    (
        browser(
            Device::Mobile,
            "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) \
             Chrome/131.0.6778.",
            " Mobile Safari/537.36",
        ),
        14,
    ),
    (
        browser(
            Device::Tablet,
            "Mozilla/5.0 (iPad; CPU OS 18_1 like Mac OS X) AppleWebKit/605.1.15 \
             (KHTML, like Gecko) Version/18.1.",
            " Mobile/15E148 Safari/604.1",
        ),
        4,
    ),
    (
        // Android tablets send no "Mobile" token; that is how they are told apart from phones.
        browser(
            Device::Tablet,
            "Mozilla/5.0 (Linux; Android 14; SM-X710) AppleWebKit/537.36 (KHTML, like Gecko) \
             Chrome/131.0.6778.",
            " Safari/537.36",
        ),
        2,
    ),
];

pub(crate) const fn browser(device: Device, before: &'static str, after: &'static str) -> Browser {
    Browser { device, before, after }
}

impl Browser {
    pub(crate) fn user_agent(&self, serial: u64) -> String {
        format!("{}{serial}{}", self.before, self.after)
    }
}

pub(crate) const DESKTOP_SCREENS: &[((u32, u32), u32)] = &[
    ((1920, 1080), 30),
    ((1536, 864), 12),
    ((2560, 1440), 10),
    ((1366, 768), 10),
    ((1440, 900), 8),
    ((1280, 720), 5),
];
pub(crate) const MOBILE_SCREENS: &[((u32, u32), u32)] = &[
    ((390, 844), 10),
    ((393, 852), 8),
    ((412, 915), 8),
    ((430, 932), 6),
    ((360, 800), 6),
];
pub(crate) const TABLET_SCREENS: &[((u32, u32), u32)] =
    &[((820, 1180), 6), ((768, 1024), 4), ((1024, 1366), 3), ((800, 1280), 3)];

pub(crate) fn screens(device: Device) -> &'static [((u32, u32), u32)] {
    match device {
        Device::Desktop => DESKTOP_SCREENS,
        Device::Mobile => MOBILE_SCREENS,
        Device::Tablet => TABLET_SCREENS,
    }
}

/// One of `items`, chosen with probability proportional to its weight.
pub(crate) fn pick<'a, T>(rng: &mut fastrand::Rng, items: &'a [(T, u32)]) -> &'a T {
    let total: u32 = items.iter().map(|(_, weight)| weight).sum();
    let mut roll = rng.u32(0..total);
    for (item, weight) in items {
        if roll < *weight {
            return item;
        }
        roll -= weight;
    }
    // Unreachable: the rolls above cover `0..total`.
    &items[items.len() - 1].0
}
