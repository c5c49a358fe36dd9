//! Every codec alone round-trips, bit for bit, on small and large inputs,
//! and the choosers follow their rule: the smallest fast encoding unless a
//! slow one is more than an eighth smaller.

use proptest::prelude::*;

use super::*;

/// Columns of every shape: random, extremes, arithmetic with jitter, steps,
/// constant, and large procedurally generated ones.
fn int_column() -> impl Strategy<Value = Vec<i64>> {
    prop_oneof![
        prop::collection::vec(any::<i64>(), 1..50),
        prop::collection::vec(
            prop_oneof![Just(i64::MIN), Just(i64::MAX), Just(0i64), Just(-1)],
            1..20
        ),
        (any::<i64>(), -1000i64..1000, 0i64..7, 1usize..5000).prop_map(
            |(start, slope, jitter, n)| {
                (0..n as i64)
                    .map(|i| {
                        start
                            .wrapping_add(slope * i)
                            .wrapping_add((i * 7919) % (jitter + 1))
                    })
                    .collect()
            }
        ),
        (any::<i64>(), 1usize..3000).prop_map(|(v, n)| vec![v; n]),
        (1usize..200_000, any::<u64>()).prop_map(|(n, seed)| {
            let mut x = seed | 1;
            let mut acc = 0i64;
            (0..n)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    acc += (x % 50) as i64;
                    acc
                })
                .collect()
        }),
    ]
}

fn special_float() -> impl Strategy<Value = f64> {
    prop_oneof![
        Just(f64::NAN),
        Just(-f64::NAN),
        Just(f64::from_bits(0x7FF0_0000_0000_0001)), // signalling NaN payload
        Just(f64::from_bits(0xFFF8_DEAD_BEEF_0001)), // negative NaN with payload
        Just(f64::INFINITY),
        Just(f64::NEG_INFINITY),
        Just(-0.0),
        Just(0.0),
        Just(f64::MIN_POSITIVE / 3.0), // subnormal
        Just(f64::MAX),
        Just(1.0),
    ]
}

fn float_column() -> impl Strategy<Value = Vec<f64>> {
    prop_oneof![
        prop::collection::vec(any::<u64>().prop_map(f64::from_bits), 1..50),
        prop::collection::vec(special_float(), 1..40),
        prop::collection::vec(any::<f32>().prop_map(f64::from), 1..2000),
        prop::collection::vec((-1000i64..1000).prop_map(|i| i as f64), 1..2000),
        (any::<u64>(), 1usize..2000).prop_map(|(bits, n)| vec![f64::from_bits(bits); n]),
        (1usize..100_000, any::<u64>()).prop_map(|(n, seed)| {
            let mut x = seed | 1;
            (0..n)
                .map(|i| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    f64::from(
                        (2.0 * (-(i as f64) / 20_000.0).exp() + (x % 1000) as f64 / 10_000.0)
                            as f32,
                    )
                })
                .collect()
        }),
    ]
}

fn same_bits(a: &[f64], b: &[f64]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.to_bits() == y.to_bits())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn each_int_codec_round_trips(values in int_column()) {
        let mut best_checked = usize::MAX;
        for codec in IntCodec::ALL {
            let mut encoded = vec![0xEE]; // decoding must not depend on the offset
            if !encode_ints_as(codec, &values, 4, &mut encoded) {
                continue;
            }
            if codec != IntCodec::Pco {
                best_checked = best_checked.min(encoded.len() - 1);
            }
            let mut decoded = vec![42];
            prop_assert_eq!(decode_ints(&encoded[1..], values.len(), &mut decoded), Ok(codec));
            prop_assert_eq!(&decoded[1..], &values[..], "{:?}", codec);
        }
        let mut chosen = Vec::new();
        let codec = encode_ints(&values, 4, &mut chosen);
        prop_assert!(chosen.len() <= best_checked, "{:?} is larger than a cheaper codec", codec);
        if codec == IntCodec::Pco {
            prop_assert!((chosen.len() - 1) * 8 < (best_checked - 1) * 7, "pco saves too little");
            prop_assert!(
                (best_checked - 1) * 8 > values.len() * PCO_MIN_BITS,
                "pco tried where bit packing needs at most {} bits a value",
                PCO_MIN_BITS
            );
        }
        let mut decoded = Vec::new();
        prop_assert_eq!(decode_ints(&chosen, values.len(), &mut decoded), Ok(codec));
        prop_assert_eq!(decoded, values);
    }

    #[test]
    fn each_float_codec_round_trips_bit_for_bit(values in float_column()) {
        let mut sizes = Vec::new();
        for codec in FloatCodec::ALL {
            let mut encoded = Vec::new();
            if !encode_floats_as(codec, &values, 4, &mut encoded) {
                continue;
            }
            sizes.push((codec, encoded.len()));
            let mut decoded = Vec::new();
            prop_assert_eq!(decode_floats(&encoded, values.len(), &mut decoded), Ok(codec));
            prop_assert!(same_bits(&decoded, &values), "{:?}", codec);
        }
        let mut chosen = Vec::new();
        let codec = encode_floats(&values, 4, &mut chosen);
        let size = |codec: FloatCodec| sizes.iter().find(|(c, _)| *c == codec).map(|&(_, len)| len);
        let expected = if let Some(constant) = size(FloatCodec::Constant) {
            constant
        } else {
            let fast = [FloatCodec::Plain, FloatCodec::PackedF32]
                .into_iter()
                .filter_map(size)
                .min()
                .expect("plain always applies");
            let narrowest_pco = [FloatCodec::PcoInt, FloatCodec::PcoF32, FloatCodec::PcoF64]
                .into_iter()
                .find_map(size);
            let gorilla = size(FloatCodec::Gorilla).filter(|_| values.len() <= GORILLA_MAX_VALUES);
            let slow = narrowest_pco
                .into_iter()
                .chain(gorilla)
                .min()
                .expect("pco over f64 always applies");
            if slow * 8 < fast * 7 { slow } else { fast }
        };
        prop_assert_eq!(chosen.len(), expected, "{:?} breaks the rule", codec);
        let mut decoded = Vec::new();
        prop_assert_eq!(decode_floats(&chosen, values.len(), &mut decoded), Ok(codec));
        prop_assert!(same_bits(&decoded, &values));
    }

    #[test]
    fn garbage_columns_decode_to_an_error_or_the_right_count(
        data in prop::collection::vec(any::<u8>(), 0..200),
        count in 1usize..100,
    ) {
        let mut ints = Vec::new();
        if decode_ints(&data, count, &mut ints).is_ok() {
            prop_assert_eq!(ints.len(), count);
        }
        let mut floats = Vec::new();
        if decode_floats(&data, count, &mut floats).is_ok() {
            prop_assert_eq!(floats.len(), count);
        }
    }
}

#[test]
fn every_codec_has_a_name_and_only_codecs_do() {
    for codec in IntCodec::ALL {
        assert_eq!(codec_name(codec as u8), Some(codec.name()));
    }
    for codec in FloatCodec::ALL {
        assert_eq!(codec_name(codec as u8), Some(codec.name()));
    }
    let named = (0..=u8::MAX).filter(|&t| codec_name(t).is_some()).count();
    assert_eq!(named, IntCodec::ALL.len() + FloatCodec::ALL.len());
}

#[test]
fn unknown_tags_are_named() {
    assert_eq!(
        decode_ints(&[0x7F, 0, 0], 1, &mut Vec::new()),
        Err(DecodeError::UnknownTag(0x7F))
    );
    assert_eq!(
        decode_floats(&[0x01, 0, 0], 1, &mut Vec::new()),
        Err(DecodeError::UnknownTag(0x01)),
        "an int tag is unknown in a float column"
    );
    assert_eq!(
        decode_ints(&[], 1, &mut Vec::new()),
        Err(DecodeError::MissingTag)
    );
}

#[test]
fn steps_and_workload_timestamps_pick_bit_packing() {
    let steps: Vec<i64> = (0..16_384).collect();
    let mut out = Vec::new();
    encode_ints(&steps, 4, &mut out);
    assert!(out.len() <= 32, "consecutive steps take a few bytes in all");
    let timestamps: Vec<i64> = (0..16_384)
        .map(|i| 1_700_000_000_000 + 100 * i + (i * 7919) % 6)
        .collect();
    let mut out = Vec::new();
    let codec = encode_ints(&timestamps, 4, &mut out);
    assert!(
        matches!(codec, IntCodec::Linear | IntCodec::Delta),
        "{codec:?}"
    );
    assert!(
        out.len() * 8 <= 16_384 * 3 + 8 * 32,
        "timestamps take 3 bits each around their line"
    );
}
