//! Floats as text that reads back to the same bits: the shortest
//! round-trip form for finite values, `inf`, `-inf`, `NaN`, and a NaN with
//! another payload as `NaN:0x<16 hex digits>`. Exports, JSON output and
//! the `serde` feature all spell floats this way.

/// `value` spelled so that [`parse`] gives back its exact bits.
pub fn exact(value: f64) -> String {
    if value.is_nan() {
        if value.to_bits() == f64::NAN.to_bits() {
            "NaN".into()
        } else {
            format!("NaN:{:#018x}", value.to_bits())
        }
    } else if value.is_infinite() {
        if value > 0.0 { "inf" } else { "-inf" }.into()
    } else {
        format!("{value}")
    }
}

/// Parses what [`exact`] writes (and any float Rust parses). A finite
/// number too large for an `f64` (such as `1e400`) is refused rather than
/// read as infinity.
pub fn parse(text: &str) -> Result<f64, String> {
    if let Some(hex) = text.strip_prefix("NaN:0x") {
        let bits = u64::from_str_radix(hex, 16).map_err(|_| format!("bad NaN payload {text:?}"))?;
        let value = f64::from_bits(bits);
        return if value.is_nan() {
            Ok(value)
        } else {
            Err(format!("{text:?} is not a NaN"))
        };
    }
    let value: f64 = text
        .parse()
        .map_err(|_| format!("{text:?} is not a number"))?;
    let spelled_infinite = text
        .trim_start_matches(['+', '-'])
        .to_ascii_lowercase()
        .starts_with("inf");
    if value.is_infinite() && !spelled_infinite {
        return Err(format!("{text:?} is out of the range of a 64-bit float"));
    }
    Ok(value)
}

/// Serializes a float as a number when finite, else as [`exact`]'s string
/// (JSON has no NaN or infinity): for `#[serde(serialize_with)]`.
#[cfg(feature = "serde")]
pub fn serialize<S: serde::Serializer>(value: &f64, serializer: S) -> Result<S::Ok, S::Error> {
    if value.is_finite() {
        serializer.serialize_f64(*value)
    } else {
        serializer.serialize_str(&exact(*value))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_of_float_reads_back_bit_for_bit() {
        let payload_nan = f64::from_bits(0x7ff8_0000_0000_0001);
        for value in [
            0.1,
            -0.0,
            0.0,
            f64::MAX,
            f64::MIN_POSITIVE,
            5e-324,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::NAN,
            payload_nan,
        ] {
            assert_eq!(
                parse(&exact(value)).unwrap().to_bits(),
                value.to_bits(),
                "{value}"
            );
        }
        assert_eq!(exact(payload_nan), "NaN:0x7ff8000000000001");
    }

    #[test]
    fn out_of_range_numbers_are_refused_not_rounded_to_infinity() {
        assert!(parse("1e400").unwrap_err().contains("out of the range"));
        assert!(parse("-1e400").is_err());
        assert_eq!(parse("-inf").unwrap(), f64::NEG_INFINITY);
        assert_eq!(parse("Infinity").unwrap(), f64::INFINITY);
        assert!(parse("NaN:0x0000000000000001").is_err(), "not a NaN");
        assert!(parse("ten").is_err());
    }
}
