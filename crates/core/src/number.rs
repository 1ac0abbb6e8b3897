//! The numbers the product stores: DynamoDB refuses a number whose magnitude is 1e126 or more, or
//! nonzero and below 1e-130 ("Number overflow" / "Number underflow"), so a value that reaches a write
//! must lie in that range. Values from clients are checked at the edge ([`is_storable`]: a 400 naming the
//! field); sums of stored values saturate ([`saturating_add`]), so no client input can make a rollup
//! write fail. An `f64` has at most 17 significant digits, well inside DynamoDB's 38.

/// The least magnitude a stored nonzero number may have.
pub const MIN_MAGNITUDE: f64 = 1e-130;
/// Every stored number's magnitude is below this.
pub const MAGNITUDE_LIMIT: f64 = 1e126;
/// The greatest magnitude a sum saturates at: the largest `f64` below [`MAGNITUDE_LIMIT`].
pub const MAX_MAGNITUDE: f64 = 9.999_999_999_999_998e125;

/// Whether DynamoDB stores `value` as it is.
pub fn is_storable(value: f64) -> bool {
    value.is_finite() && (value == 0.0 || (MIN_MAGNITUDE..MAGNITUDE_LIMIT).contains(&value.abs()))
}

/// `value` brought into the storable range: magnitudes past the limit saturate at [`MAX_MAGNITUDE`], and
/// those below [`MIN_MAGNITUDE`] (what is left of a difference of near-equal values) become 0.
pub fn storable(value: f64) -> f64 {
    if value.is_nan() {
        0.0
    } else if value.abs() >= MAGNITUDE_LIMIT {
        MAX_MAGNITUDE.copysign(value)
    } else if value.abs() < MIN_MAGNITUDE {
        0.0
    } else {
        value
    }
}

/// `a + b`, kept storable.
pub fn saturating_add(a: f64, b: f64) -> f64 {
    storable(a + b)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every f64 is written as its shortest round-trip text, which is what DynamoDB parses.
    #[test]
    fn the_range_is_dynamodbs() {
        assert!(is_storable(0.0));
        assert!(is_storable(9.99e125));
        assert!(is_storable(MAX_MAGNITUDE));
        assert!(is_storable(-MAX_MAGNITUDE));
        assert!(is_storable(1e-130));
        assert!(!is_storable(1e126));
        assert!(!is_storable(-1e126));
        assert!(!is_storable(1e-131));
        assert!(!is_storable(f64::INFINITY));
        assert!(!is_storable(f64::NAN));
        const { assert!(MAX_MAGNITUDE < MAGNITUDE_LIMIT) };
        assert_eq!(
            MAX_MAGNITUDE.next_up(),
            MAGNITUDE_LIMIT,
            "the largest f64 below the limit"
        );
    }

    #[test]
    fn sums_saturate_and_never_underflow() {
        assert_eq!(saturating_add(9e125, 9e125), MAX_MAGNITUDE);
        assert_eq!(saturating_add(-9e125, -9e125), -MAX_MAGNITUDE);
        assert_eq!(saturating_add(MAX_MAGNITUDE, 1.0), MAX_MAGNITUDE);
        assert_eq!(saturating_add(1.000_000_000_000_000_2e-120, -1e-120), 0.0);
        assert_eq!(saturating_add(2.5, 4.0), 6.5);
        for sum in [
            saturating_add(9e125, 9e125),
            saturating_add(1e-130, -1e-130),
            saturating_add(-3.0, 1.0),
        ] {
            assert!(is_storable(sum), "{sum}");
        }
    }
}
