//! The libzmq that this crate links is 4.3.5 and has CURVE.
use corsair_libzmq as _;

#[test]
fn libzmq_is_4_3_5_with_curve() {
    let (major, minor, patch) = zmq::version();
    assert_eq!(
        (major, minor, patch),
        corsair_libzmq::LIBZMQ_VERSION,
        "linked libzmq version"
    );
    assert_eq!(zmq::has("curve"), Some(true), "libzmq built without CURVE");
}

#[test]
fn curve_keypair_round_trips_through_z85() {
    let pair = zmq::CurveKeyPair::new().expect("curve keypair");
    let text = zmq::z85_encode(&pair.public_key).expect("z85 encode");
    assert_eq!(text.len(), 40);
    assert_eq!(zmq::z85_decode(&text).expect("z85 decode"), pair.public_key);
}
