//! `request`: every request decoder at every version, and the round trip where decoding
//! succeeds.

use core::fmt::Debug;

use blazemq_core::codec::fetch_view::FetchView;
use blazemq_core::codec::messages::{FetchRequest, ProduceRequest};
use blazemq_core::codec::produce_view::ProduceView;
use blazemq_core::codec::{Message, Records, Writer};

/// The first byte is the api key, the second the api version, the rest the request body.
pub fn request(data: &[u8]) {
    let [key, version, rest @ ..] = data else {
        return;
    };
    body(i16::from(*key), i16::from(*version), rest);
}

/// Decodes `body` as the request of `api_key` at `version` with the generated decoder and, for
/// Produce and Fetch, with the in-place views the broker's hot paths use.
pub(crate) fn body(api_key: i16, version: i16, body: &[u8]) {
    macro_rules! request_of_key {
        ($module:ident, $ty:path) => {
            if stringify!($module).ends_with("_request") && <$ty as Message>::API_KEY == api_key {
                round_trip::<$ty>(body, version);
            }
        };
    }
    blazemq_core::for_each_message!(request_of_key);
    match api_key {
        0 => produce_view(body, version),
        1 => fetch_view(body, version),
        _ => {}
    }
}

/// Decode; where that succeeds, encode, decode again: the second decode reads all the bytes
/// and gives the same value, which encodes to the same bytes.
fn round_trip<M: Message + Debug + PartialEq>(body: &[u8], version: i16) {
    let in_range = (M::LOWEST_VERSION..=M::HIGHEST_VERSION).contains(&version);
    let first = match M::decode_complete(body, version) {
        Ok(first) => first,
        Err(_) => return,
    };
    assert!(
        in_range,
        "decoded at v{version}, outside the spec's versions"
    );
    let bytes = encode(&first, version);
    let second = match M::decode(&bytes, version) {
        Ok((rest, second)) => {
            assert!(
                rest.is_empty(),
                "{} bytes left after re-decoding",
                rest.len()
            );
            second
        }
        Err(e) => panic!("re-encoded {first:?} at v{version} does not decode: {e:?}"),
    };
    // Floats (quota values) may be NaN, which is not equal to itself: then the bytes decide.
    if !format!("{first:?}").contains("NaN") {
        assert_eq!(
            first, second,
            "value changed through encode and decode at v{version}"
        );
    }
    assert_eq!(
        bytes,
        encode(&second, version),
        "encoding is not stable at v{version}"
    );
}

fn encode<M: Message + Debug>(message: &M, version: i16) -> Vec<u8> {
    let mut w = Writer::new();
    if let Err(e) = message.encode(&mut w, version) {
        panic!("decoded {message:?} at v{version} but cannot encode it: {e:?}");
    }
    w.into_bytes()
}

/// The in-place Produce view reads the same topics, partitions and records as the generated
/// decoder whenever both accept the body.
fn produce_view(body: &[u8], version: i16) {
    let Ok(view) = ProduceView::decode(body, version) else {
        return;
    };
    let viewed: Vec<(i32, Option<&[u8]>)> = view
        .topics()
        .flat_map(|t| t.partitions().collect::<Vec<_>>())
        .collect();
    assert_eq!(view.topic_count(), view.topics().count());
    let Ok(owned) = ProduceRequest::decode_complete(body, version) else {
        return;
    };
    assert_eq!(owned.topic_data.len(), view.topic_count());
    let decoded: Vec<(i32, Option<&[u8]>)> = owned
        .topic_data
        .iter()
        .flat_map(|t| t.partition_data.iter())
        .map(|p| (p.index, p.records.as_ref().map(records_bytes)))
        .collect();
    assert_eq!(viewed, decoded, "Produce view and decoder disagree");
}

fn records_bytes(records: &Records) -> &[u8] {
    match records {
        Records::Bytes(bytes) => bytes,
        // A decoded request holds its records in memory; a segment range has no bytes here.
        Records::Segment(_) => &[],
    }
}

/// The in-place Fetch view can be walked to the end once it decoded, and names as many topics
/// and partitions as the generated decoder.
fn fetch_view(body: &[u8], version: i16) {
    let Ok(view) = FetchView::decode(body, version) else {
        return;
    };
    let partitions: Vec<usize> = view.topics().map(|t| t.partitions().count()).collect();
    assert_eq!(partitions.len(), view.topic_count());
    let forgotten: usize = view
        .forgotten_topics()
        .map(|t| t.partitions().count())
        .sum();
    let Ok(owned) = FetchRequest::decode_complete(body, version) else {
        return;
    };
    let decoded: Vec<usize> = owned.topics.iter().map(|t| t.partitions.len()).collect();
    assert_eq!(partitions, decoded, "Fetch view and decoder disagree");
    let owned_forgotten: usize = owned
        .forgotten_topics_data
        .iter()
        .map(|t| t.partitions.len())
        .sum();
    assert_eq!(forgotten, owned_forgotten);
}
