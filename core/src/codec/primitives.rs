//! Kafka's primitive types: nom parsers over whole frames and a [`Writer`] that encodes them.
//!
//! Parsers are nom "complete" parsers: a frame is decoded only once all of it has arrived
//! ([`super::frame::split`]), so running out of input is an error ([`DecodeError::Truncated`]),
//! never `Incomplete`. Every length or count read off the wire is checked against the bytes that
//! remain before anything is allocated for it.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use nom::IResult;
use nom::error::{ErrorKind, ParseError};
use nom::number::complete as num;

use super::response::{Response, SegmentRef, Splice};
use crate::error::ErrorCode;

/// Why bytes could not be decoded as the message they claim to be.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum DecodeError {
    /// The input ended inside a value.
    Truncated,
    /// A length or count claims more bytes (or elements) than the input has left.
    LengthExceedsInput {
        /// The length or count on the wire.
        claimed: u64,
        /// Bytes left in the input when it was read.
        remaining: usize,
    },
    /// A negative length other than -1 (null), or a string longer than Kafka allows.
    InvalidLength(i64),
    /// A string that is not UTF-8.
    InvalidUtf8,
    /// A varint longer than its type allows.
    InvalidVarint,
    /// Null where the field's version does not allow null.
    NullNotAllowed(&'static str),
    /// The message is not defined at this version.
    UnsupportedVersion(i16),
    /// A nom combinator failed for another reason.
    Nom(ErrorKind),
}

impl DecodeError {
    /// The Kafka error code a broker answers with (or logs) for this failure.
    pub const fn error_code(self) -> ErrorCode {
        match self {
            DecodeError::UnsupportedVersion(_) => ErrorCode::UnsupportedVersion,
            _ => ErrorCode::InvalidRequest,
        }
    }
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DecodeError::Truncated => f.write_str("input ended inside a value"),
            DecodeError::LengthExceedsInput { claimed, remaining } => {
                write!(f, "length {claimed} exceeds the {remaining} bytes left")
            }
            DecodeError::InvalidLength(n) => write!(f, "invalid length {n}"),
            DecodeError::InvalidUtf8 => f.write_str("string is not UTF-8"),
            DecodeError::InvalidVarint => f.write_str("varint too long"),
            DecodeError::NullNotAllowed(field) => write!(f, "null in non-nullable field {field}"),
            DecodeError::UnsupportedVersion(v) => write!(f, "unsupported version {v}"),
            DecodeError::Nom(kind) => write!(f, "parse error: {kind:?}"),
        }
    }
}

impl ParseError<&[u8]> for DecodeError {
    fn from_error_kind(_input: &[u8], kind: ErrorKind) -> Self {
        match kind {
            ErrorKind::Eof | ErrorKind::Complete => DecodeError::Truncated,
            other => DecodeError::Nom(other),
        }
    }

    fn append(_input: &[u8], _kind: ErrorKind, other: Self) -> Self {
        other
    }
}

/// Why a value could not be encoded at the requested version.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum EncodeError {
    /// The message is not defined at this version.
    UnsupportedVersion(i16),
    /// A field holds a non-default value but the version lacks it (and it is not ignorable).
    UnsupportedField(&'static str),
    /// A field is null but the version does not allow null there.
    NullNotAllowed(&'static str),
    /// A string, byte string or array is longer than its length prefix can say.
    TooLong,
}

impl EncodeError {
    /// The Kafka error code for this failure.
    pub const fn error_code(self) -> ErrorCode {
        match self {
            EncodeError::UnsupportedVersion(_) | EncodeError::UnsupportedField(_) => {
                ErrorCode::UnsupportedVersion
            }
            _ => ErrorCode::UnknownServerError,
        }
    }
}

impl fmt::Display for EncodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EncodeError::UnsupportedVersion(v) => write!(f, "unsupported version {v}"),
            EncodeError::UnsupportedField(field) => {
                write!(f, "field {field} is not supported at this version")
            }
            EncodeError::NullNotAllowed(field) => write!(f, "null in non-nullable field {field}"),
            EncodeError::TooLong => f.write_str("value too long for its length prefix"),
        }
    }
}

/// The result of every parser here.
pub type Parsed<'a, T> = IResult<&'a [u8], T, DecodeError>;

/// The `count` entries of an array a decoder has already checked whole, read one after another
/// from `input` with `parse`. It stops early only if an entry fails to parse, which that check
/// rules out; nothing is allocated.
pub fn checked_entries<'a, T: 'a, A: Copy + 'a>(
    mut input: &'a [u8],
    count: usize,
    arg: A,
    parse: fn(&'a [u8], A) -> Parsed<'a, T>,
) -> impl Iterator<Item = T> + 'a {
    (0..count).map_while(move |_| {
        let (rest, entry) = parse(input, arg).ok()?;
        input = rest;
        Some(entry)
    })
}

fn fail<T>(e: DecodeError) -> Result<T, nom::Err<DecodeError>> {
    Err(nom::Err::Error(e))
}

/// A 16-byte Kafka UUID (topic ids, member ids).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Uuid(pub [u8; 16]);

impl Uuid {
    /// The all-zero UUID, Kafka's `Uuid.ZERO_UUID` ("no id").
    pub const ZERO: Uuid = Uuid([0; 16]);
}

impl fmt::Display for Uuid {
    /// Kafka's text form: URL-safe base64 without padding (22 characters).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const ALPHABET: &[u8; 64] =
            b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        let mut out = [0u8; 22];
        let mut o = 0;
        for chunk in self.0.chunks(3) {
            let b = [
                chunk[0],
                chunk.get(1).copied().unwrap_or(0),
                chunk.get(2).copied().unwrap_or(0),
            ];
            let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
            // A full chunk gives 4 characters; the last chunk of 16 bytes (1 byte) gives 2.
            let chars = chunk.len() + 1;
            for i in 0..chars {
                out[o] = ALPHABET[((n >> (18 - 6 * i)) & 0x3f) as usize];
                o += 1;
            }
        }
        f.write_str(core::str::from_utf8(&out).expect("base64 alphabet is ASCII"))
    }
}

/// Record data: bytes held in memory, or a range of a segment sent without copying.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Records {
    /// Record batches in memory (decoded requests, tests).
    Bytes(Vec<u8>),
    /// Record batches still in a segment; written as a [`Splice`] of the response.
    Segment(SegmentRef),
}

impl Records {
    /// Length on the wire, in bytes.
    pub fn len(&self) -> usize {
        match self {
            Records::Bytes(b) => b.len(),
            Records::Segment(s) => s.len as usize,
        }
    }

    /// Whether there are no record bytes.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Default for Records {
    fn default() -> Self {
        Records::Bytes(Vec::new())
    }
}

// ---------------------------------------------------------------- fixed-width parsers

/// int8.
pub fn int8(input: &[u8]) -> Parsed<'_, i8> {
    num::be_i8(input)
}

/// int16, big-endian.
#[inline]
pub fn int16(input: &[u8]) -> Parsed<'_, i16> {
    num::be_i16(input)
}

/// int32, big-endian.
#[inline]
pub fn int32(input: &[u8]) -> Parsed<'_, i32> {
    num::be_i32(input)
}

/// int64, big-endian.
#[inline]
pub fn int64(input: &[u8]) -> Parsed<'_, i64> {
    num::be_i64(input)
}

/// uint16, big-endian.
pub fn uint16(input: &[u8]) -> Parsed<'_, u16> {
    num::be_u16(input)
}

/// uint32, big-endian.
pub fn uint32(input: &[u8]) -> Parsed<'_, u32> {
    num::be_u32(input)
}

/// float64, IEEE 754 big-endian.
pub fn float64(input: &[u8]) -> Parsed<'_, f64> {
    num::be_f64(input)
}

/// bool: one byte, any non-zero value is true (as Kafka reads it).
pub fn boolean(input: &[u8]) -> Parsed<'_, bool> {
    let (rest, b) = num::be_u8(input)?;
    Ok((rest, b != 0))
}

/// uuid: 16 bytes.
pub fn uuid(input: &[u8]) -> Parsed<'_, Uuid> {
    let (rest, b) = take(input, 16)?;
    let mut id = [0u8; 16];
    id.copy_from_slice(b);
    Ok((rest, Uuid(id)))
}

/// The next `n` bytes, checked against the input before anything else happens.
pub fn take(input: &[u8], n: usize) -> Parsed<'_, &[u8]> {
    if n > input.len() {
        return fail(DecodeError::LengthExceedsInput {
            claimed: n as u64,
            remaining: input.len(),
        });
    }
    let (value, rest) = input.split_at(n);
    Ok((rest, value))
}

// ---------------------------------------------------------------- varints

/// Unsigned varint of at most 32 bits (5 bytes), as used for compact lengths and tags.
pub fn uvarint(input: &[u8]) -> Parsed<'_, u32> {
    let mut value: u32 = 0;
    for i in 0..5 {
        let Some(&b) = input.get(i) else {
            return fail(DecodeError::Truncated);
        };
        // The fifth byte may carry only the top 4 bits of a u32.
        if i == 4 && b & 0xf0 != 0 {
            return fail(DecodeError::InvalidVarint);
        }
        value |= u32::from(b & 0x7f) << (7 * i);
        if b & 0x80 == 0 {
            return Ok((&input[i + 1..], value));
        }
    }
    fail(DecodeError::InvalidVarint)
}

/// Unsigned varint of at most 64 bits (10 bytes).
pub fn uvarlong(input: &[u8]) -> Parsed<'_, u64> {
    let mut value: u64 = 0;
    for i in 0..10 {
        let Some(&b) = input.get(i) else {
            return fail(DecodeError::Truncated);
        };
        if i == 9 && b & 0xfe != 0 {
            return fail(DecodeError::InvalidVarint);
        }
        value |= u64::from(b & 0x7f) << (7 * i);
        if b & 0x80 == 0 {
            return Ok((&input[i + 1..], value));
        }
    }
    fail(DecodeError::InvalidVarint)
}

/// Signed zigzag varint (32 bits), as record fields use.
pub fn varint(input: &[u8]) -> Parsed<'_, i32> {
    let (rest, n) = uvarint(input)?;
    Ok((rest, ((n >> 1) as i32) ^ -((n & 1) as i32)))
}

/// Signed zigzag varlong (64 bits), as record fields use.
pub fn varlong(input: &[u8]) -> Parsed<'_, i64> {
    let (rest, n) = uvarlong(input)?;
    Ok((rest, ((n >> 1) as i64) ^ -((n & 1) as i64)))
}

// ---------------------------------------------------------------- lengths

/// A length prefix: int16 (`string`), int32 (`bytes`, arrays) or a compact uvarint N+1.
/// Returns `None` for null. Negative lengths other than -1 are an error.
#[inline]
fn length(input: &[u8], compact: bool, wide: bool) -> Parsed<'_, Option<usize>> {
    let (rest, n): (&[u8], i64) = if compact {
        let (rest, n) = uvarint(input)?;
        (rest, i64::from(n) - 1)
    } else if wide {
        let (rest, n) = int32(input)?;
        (rest, i64::from(n))
    } else {
        let (rest, n) = int16(input)?;
        (rest, i64::from(n))
    };
    match n {
        -1 => Ok((rest, None)),
        n if n < 0 => fail(DecodeError::InvalidLength(n)),
        n => Ok((rest, Some(n as usize))),
    }
}

/// An array's element count (int32, or compact uvarint N+1); `None` for null.
///
/// A count larger than the bytes left is an error before anything is allocated, as in Kafka:
/// it bounds the work even for elements that encode to zero bytes.
pub fn array_len(input: &[u8], compact: bool) -> Parsed<'_, Option<usize>> {
    let (rest, n) = length(input, compact, true)?;
    if let Some(n) = n {
        if n > rest.len() {
            return fail(DecodeError::LengthExceedsInput {
                claimed: n as u64,
                remaining: rest.len(),
            });
        }
    }
    Ok((rest, n))
}

fn non_null<T>(
    value: Option<T>,
    nullable: bool,
    field: &'static str,
) -> Result<Option<T>, nom::Err<DecodeError>> {
    if value.is_none() && !nullable {
        return fail(DecodeError::NullNotAllowed(field));
    }
    Ok(value)
}

// ---------------------------------------------------------------- strings and bytes

fn utf8(bytes: &[u8]) -> Result<String, nom::Err<DecodeError>> {
    match core::str::from_utf8(bytes) {
        Ok(s) => Ok(String::from(s)),
        Err(_) => fail(DecodeError::InvalidUtf8),
    }
}

/// A nullable string (int16 length, or compact uvarint N+1). `nullable` is whether this
/// version allows null; null where it does not is [`DecodeError::NullNotAllowed`].
pub fn nullable_string<'a>(
    input: &'a [u8],
    compact: bool,
    nullable: bool,
    field: &'static str,
) -> Parsed<'a, Option<String>> {
    let (rest, n) = length(input, compact, false)?;
    let Some(n) = non_null(n, nullable, field)? else {
        return Ok((rest, None));
    };
    // Kafka's limit for every string, compact or not.
    if n > i16::MAX as usize {
        return fail(DecodeError::InvalidLength(n as i64));
    }
    let (rest, bytes) = take(rest, n)?;
    Ok((rest, Some(utf8(bytes)?)))
}

/// A nullable string borrowed from the input, for hand-written hot paths that must not allocate.
pub fn nullable_str<'a>(
    input: &'a [u8],
    compact: bool,
    nullable: bool,
    field: &'static str,
) -> Parsed<'a, Option<&'a str>> {
    let (rest, n) = length(input, compact, false)?;
    let Some(n) = non_null(n, nullable, field)? else {
        return Ok((rest, None));
    };
    if n > i16::MAX as usize {
        return fail(DecodeError::InvalidLength(n as i64));
    }
    let (rest, bytes) = take(rest, n)?;
    match core::str::from_utf8(bytes) {
        Ok(s) => Ok((rest, Some(s))),
        Err(_) => fail(DecodeError::InvalidUtf8),
    }
}

/// A nullable byte string borrowed from the input (record data on the produce path).
pub fn nullable_bytes_ref<'a>(
    input: &'a [u8],
    compact: bool,
    nullable: bool,
    field: &'static str,
) -> Parsed<'a, Option<&'a [u8]>> {
    let (rest, n) = length(input, compact, true)?;
    let Some(n) = non_null(n, nullable, field)? else {
        return Ok((rest, None));
    };
    let (rest, bytes) = take(rest, n)?;
    Ok((rest, Some(bytes)))
}

/// A non-nullable string.
pub fn string<'a>(input: &'a [u8], compact: bool, field: &'static str) -> Parsed<'a, String> {
    let (rest, s) = nullable_string(input, compact, false, field)?;
    Ok((rest, s.unwrap_or_default()))
}

/// A nullable byte string (int32 length, or compact uvarint N+1).
pub fn nullable_bytes<'a>(
    input: &'a [u8],
    compact: bool,
    nullable: bool,
    field: &'static str,
) -> Parsed<'a, Option<Vec<u8>>> {
    let (rest, n) = length(input, compact, true)?;
    let Some(n) = non_null(n, nullable, field)? else {
        return Ok((rest, None));
    };
    let (rest, bytes) = take(rest, n)?;
    Ok((rest, Some(bytes.to_vec())))
}

/// A non-nullable byte string.
pub fn bytes<'a>(input: &'a [u8], compact: bool, field: &'static str) -> Parsed<'a, Vec<u8>> {
    let (rest, b) = nullable_bytes(input, compact, false, field)?;
    Ok((rest, b.unwrap_or_default()))
}

/// Record data: a nullable byte string held as [`Records::Bytes`].
pub fn records<'a>(
    input: &'a [u8],
    compact: bool,
    nullable: bool,
    field: &'static str,
) -> Parsed<'a, Option<Records>> {
    let (rest, b) = nullable_bytes(input, compact, nullable, field)?;
    Ok((rest, b.map(Records::Bytes)))
}

// ---------------------------------------------------------------- arrays and structs

/// Capacity reserved up front for a decoded array: small, since the count is only a claim.
const ARRAY_PREALLOC_MAX: usize = 16;

/// A nullable array whose elements are parsed by `element`.
pub fn nullable_array<'a, T>(
    input: &'a [u8],
    compact: bool,
    nullable: bool,
    field: &'static str,
    mut element: impl FnMut(&'a [u8]) -> Parsed<'a, T>,
) -> Parsed<'a, Option<Vec<T>>> {
    let (mut rest, n) = array_len(input, compact)?;
    let Some(n) = non_null(n, nullable, field)? else {
        return Ok((rest, None));
    };
    let mut items = Vec::with_capacity(n.min(ARRAY_PREALLOC_MAX));
    for _ in 0..n {
        let (r, item) = element(rest)?;
        rest = r;
        items.push(item);
    }
    Ok((rest, Some(items)))
}

/// A non-nullable array.
pub fn array<'a, T>(
    input: &'a [u8],
    compact: bool,
    field: &'static str,
    element: impl FnMut(&'a [u8]) -> Parsed<'a, T>,
) -> Parsed<'a, Vec<T>> {
    let (rest, items) = nullable_array(input, compact, false, field, element)?;
    Ok((rest, items.unwrap_or_default()))
}

/// A nullable struct: an int8 marker (-1 null, 1 present) and the struct.
pub fn nullable_struct<'a, T>(
    input: &'a [u8],
    nullable: bool,
    field: &'static str,
    element: impl FnOnce(&'a [u8]) -> Parsed<'a, T>,
) -> Parsed<'a, Option<T>> {
    let (rest, marker) = int8(input)?;
    if marker < 0 {
        non_null::<T>(None, nullable, field)?;
        return Ok((rest, None));
    }
    let (rest, value) = element(rest)?;
    Ok((rest, Some(value)))
}

/// A tagged-field section: a count, then (tag, size, data) each. `known` gets each field's tag
/// and exactly its data; tags it does not know it must ignore (Kafka skips unknown tags).
pub fn tagged_fields<'a>(
    input: &'a [u8],
    mut known: impl FnMut(u32, &'a [u8]) -> Result<(), nom::Err<DecodeError>>,
) -> Parsed<'a, ()> {
    let (mut rest, count) = uvarint(input)?;
    // Each field takes at least two bytes (tag and size).
    if count as usize > rest.len() {
        return fail(DecodeError::LengthExceedsInput {
            claimed: u64::from(count),
            remaining: rest.len(),
        });
    }
    for _ in 0..count {
        let (r, tag) = uvarint(rest)?;
        let (r, size) = uvarint(r)?;
        let (r, data) = take(r, size as usize)?;
        known(tag, data)?;
        rest = r;
    }
    Ok((rest, ()))
}

// ---------------------------------------------------------------- writer

/// Tagged fields of one struct, collected in ascending tag order before the section is written.
#[derive(Debug, Default)]
pub struct TaggedFields {
    fields: Vec<(u32, Vec<u8>)>,
}

impl TaggedFields {
    /// A section with no fields yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds field `tag`, written by `f`. Tags must be added in ascending order.
    pub fn field(
        &mut self,
        tag: u32,
        f: impl FnOnce(&mut Writer) -> Result<(), EncodeError>,
    ) -> Result<(), EncodeError> {
        debug_assert!(
            self.fields.last().is_none_or(|(t, _)| *t < tag),
            "tags ascend"
        );
        let mut w = Writer::new();
        f(&mut w)?;
        self.fields.push((tag, w.into_bytes()));
        Ok(())
    }
}

/// An encoder into an owned buffer, with record data optionally left in segments.
#[derive(Debug, Default)]
pub struct Writer {
    buf: Vec<u8>,
    splices: Vec<Splice>,
}

impl Writer {
    /// An empty writer.
    pub fn new() -> Self {
        Self::default()
    }

    /// A writer that already holds `buf` (e.g. a reserved size prefix).
    pub fn from_vec(buf: Vec<u8>) -> Self {
        Writer {
            buf,
            splices: Vec::new(),
        }
    }

    /// The writer with `splices` (cleared) as its list of segment ranges, so a recycled list's
    /// capacity serves this response.
    pub fn with_splices(mut self, mut splices: Vec<Splice>) -> Self {
        splices.clear();
        splices.append(&mut self.splices);
        self.splices = splices;
        self
    }

    /// Bytes written so far (splices excluded).
    pub fn as_bytes(&self) -> &[u8] {
        &self.buf
    }

    /// Bytes on the wire so far, spliced segment bytes included.
    pub fn wire_len(&self) -> usize {
        self.buf.len()
            + self
                .splices
                .iter()
                .map(|s| s.segment.len as usize)
                .sum::<usize>()
    }

    /// Overwrites 4 bytes at `at` with `v` (to fill in a size prefix once the size is known).
    pub fn patch_i32(&mut self, at: usize, v: i32) {
        self.buf[at..at + 4].copy_from_slice(&v.to_be_bytes());
    }

    /// The encoded bytes and the segment ranges to splice into them.
    pub fn into_response(self) -> Response {
        Response {
            bytes: self.buf,
            splices: self.splices,
            request: super::RequestStamp::default(),
        }
    }

    /// The encoded bytes. Only for writers that hold no segment ranges (they would be lost).
    pub fn into_bytes(self) -> Vec<u8> {
        debug_assert!(
            self.splices.is_empty(),
            "segment records need into_response"
        );
        self.buf
    }

    /// int8.
    pub fn put_i8(&mut self, v: i8) {
        self.buf.push(v as u8);
    }
    /// int16.
    pub fn put_i16(&mut self, v: i16) {
        self.buf.extend_from_slice(&v.to_be_bytes());
    }
    /// int32.
    pub fn put_i32(&mut self, v: i32) {
        self.buf.extend_from_slice(&v.to_be_bytes());
    }
    /// int64.
    pub fn put_i64(&mut self, v: i64) {
        self.buf.extend_from_slice(&v.to_be_bytes());
    }
    /// uint16.
    pub fn put_u16(&mut self, v: u16) {
        self.buf.extend_from_slice(&v.to_be_bytes());
    }
    /// uint32.
    pub fn put_u32(&mut self, v: u32) {
        self.buf.extend_from_slice(&v.to_be_bytes());
    }
    /// float64.
    pub fn put_f64(&mut self, v: f64) {
        self.buf.extend_from_slice(&v.to_be_bytes());
    }
    /// bool as one byte, 0 or 1.
    pub fn put_bool(&mut self, v: bool) {
        self.buf.push(u8::from(v));
    }
    /// uuid.
    pub fn put_uuid(&mut self, v: Uuid) {
        self.buf.extend_from_slice(&v.0);
    }
    /// Raw bytes, no prefix.
    pub fn put_raw(&mut self, v: &[u8]) {
        self.buf.extend_from_slice(v);
    }

    /// Unsigned varint (32 bits).
    pub fn put_uvarint(&mut self, mut v: u32) {
        while v >= 0x80 {
            self.buf.push((v as u8) | 0x80);
            v >>= 7;
        }
        self.buf.push(v as u8);
    }
    /// Unsigned varint (64 bits).
    pub fn put_uvarlong(&mut self, mut v: u64) {
        while v >= 0x80 {
            self.buf.push((v as u8) | 0x80);
            v >>= 7;
        }
        self.buf.push(v as u8);
    }
    /// Signed zigzag varint.
    pub fn put_varint(&mut self, v: i32) {
        self.put_uvarint(((v << 1) ^ (v >> 31)) as u32);
    }
    /// Signed zigzag varlong.
    pub fn put_varlong(&mut self, v: i64) {
        self.put_uvarlong(((v << 1) ^ (v >> 63)) as u64);
    }

    /// A length prefix for `len` items, or null for `None`.
    fn put_len(
        &mut self,
        len: Option<usize>,
        compact: bool,
        wide: bool,
    ) -> Result<(), EncodeError> {
        let max = if wide {
            i32::MAX as usize
        } else {
            i16::MAX as usize
        };
        match len {
            Some(n) if n > max => return Err(EncodeError::TooLong),
            Some(n) if compact => self.put_uvarint(n as u32 + 1),
            Some(n) if wide => self.put_i32(n as i32),
            Some(n) => self.put_i16(n as i16),
            None if compact => self.put_uvarint(0),
            None if wide => self.put_i32(-1),
            None => self.put_i16(-1),
        }
        Ok(())
    }

    /// An array's count (int32 or compact N+1); `None` writes null.
    pub fn put_array_len(&mut self, len: Option<usize>, compact: bool) -> Result<(), EncodeError> {
        self.put_len(len, compact, true)
    }

    /// A non-nullable string.
    pub fn put_string(&mut self, v: &str, compact: bool) -> Result<(), EncodeError> {
        self.put_len(Some(v.len()), compact, false)?;
        self.put_raw(v.as_bytes());
        Ok(())
    }

    /// A nullable string; null where the version does not allow it is an error.
    pub fn put_nullable_string(
        &mut self,
        v: Option<&str>,
        compact: bool,
        nullable: bool,
        field: &'static str,
    ) -> Result<(), EncodeError> {
        match v {
            Some(s) => self.put_string(s, compact),
            None if nullable => self.put_len(None, compact, false),
            None => Err(EncodeError::NullNotAllowed(field)),
        }
    }

    /// A non-nullable byte string.
    pub fn put_bytes(&mut self, v: &[u8], compact: bool) -> Result<(), EncodeError> {
        self.put_len(Some(v.len()), compact, true)?;
        self.put_raw(v);
        Ok(())
    }

    /// A nullable byte string.
    pub fn put_nullable_bytes(
        &mut self,
        v: Option<&[u8]>,
        compact: bool,
        nullable: bool,
        field: &'static str,
    ) -> Result<(), EncodeError> {
        match v {
            Some(b) => self.put_bytes(b, compact),
            None if nullable => self.put_len(None, compact, true),
            None => Err(EncodeError::NullNotAllowed(field)),
        }
    }

    /// Record data with its length prefix. A [`Records::Segment`] is not copied: its range is
    /// recorded as a [`Splice`] at the current position.
    pub fn put_records(&mut self, v: &Records, compact: bool) -> Result<(), EncodeError> {
        self.put_len(Some(v.len()), compact, true)?;
        match v {
            Records::Bytes(b) => self.put_raw(b),
            Records::Segment(segment) => self.splices.push(Splice {
                at: self.buf.len(),
                segment: *segment,
            }),
        }
        Ok(())
    }

    /// Nullable record data.
    pub fn put_nullable_records(
        &mut self,
        v: Option<&Records>,
        compact: bool,
        nullable: bool,
        field: &'static str,
    ) -> Result<(), EncodeError> {
        match v {
            Some(r) => self.put_records(r, compact),
            None if nullable => self.put_len(None, compact, true),
            None => Err(EncodeError::NullNotAllowed(field)),
        }
    }

    /// A non-nullable array, each element written by `f`.
    pub fn put_array<T>(
        &mut self,
        items: &[T],
        compact: bool,
        mut f: impl FnMut(&mut Writer, &T) -> Result<(), EncodeError>,
    ) -> Result<(), EncodeError> {
        self.put_array_len(Some(items.len()), compact)?;
        for item in items {
            f(self, item)?;
        }
        Ok(())
    }

    /// A nullable array.
    pub fn put_nullable_array<T>(
        &mut self,
        items: Option<&[T]>,
        compact: bool,
        nullable: bool,
        field: &'static str,
        f: impl FnMut(&mut Writer, &T) -> Result<(), EncodeError>,
    ) -> Result<(), EncodeError> {
        match items {
            Some(items) => self.put_array(items, compact, f),
            None if nullable => self.put_array_len(None, compact),
            None => Err(EncodeError::NullNotAllowed(field)),
        }
    }

    /// A nullable struct: int8 marker (-1 null, 1 present), then the struct written by `f`.
    pub fn put_nullable_struct<T>(
        &mut self,
        v: Option<&T>,
        nullable: bool,
        field: &'static str,
        f: impl FnOnce(&mut Writer, &T) -> Result<(), EncodeError>,
    ) -> Result<(), EncodeError> {
        match v {
            Some(v) => {
                self.put_i8(1);
                f(self, v)
            }
            None if nullable => {
                self.put_i8(-1);
                Ok(())
            }
            None => Err(EncodeError::NullNotAllowed(field)),
        }
    }

    /// A tagged-field section.
    pub fn put_tagged_fields(&mut self, tagged: TaggedFields) -> Result<(), EncodeError> {
        let count = u32::try_from(tagged.fields.len()).map_err(|_| EncodeError::TooLong)?;
        self.put_uvarint(count);
        for (tag, data) in tagged.fields {
            let size = u32::try_from(data.len()).map_err(|_| EncodeError::TooLong)?;
            self.put_uvarint(tag);
            self.put_uvarint(size);
            self.put_raw(&data);
        }
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // A failed unwrap is a failed test.
mod tests {
    use super::*;
    use alloc::string::ToString;
    use alloc::vec;

    fn written(f: impl FnOnce(&mut Writer)) -> Vec<u8> {
        let mut w = Writer::new();
        f(&mut w);
        w.into_bytes()
    }

    #[test]
    fn uvarint_edges() {
        for (v, bytes) in [
            (0u32, vec![0x00]),
            (1, vec![0x01]),
            (127, vec![0x7f]),
            (128, vec![0x80, 0x01]),
            (300, vec![0xac, 0x02]),
            (u32::MAX, vec![0xff, 0xff, 0xff, 0xff, 0x0f]),
        ] {
            assert_eq!(written(|w| w.put_uvarint(v)), bytes);
            assert_eq!(uvarint(&bytes), Ok((&[][..], v)));
        }
        // Six bytes, or a fifth byte with bits beyond 32, are invalid; a missing byte truncates.
        assert!(uvarint(&[0xff, 0xff, 0xff, 0xff, 0xff, 0x01]).is_err());
        assert!(uvarint(&[0xff, 0xff, 0xff, 0xff, 0x1f]).is_err());
        assert_eq!(
            uvarint(&[0x80]),
            Err(nom::Err::Error(DecodeError::Truncated))
        );
    }

    #[test]
    fn zigzag_edges() {
        for (v, bytes) in [
            (0i32, vec![0x00]),
            (-1, vec![0x01]),
            (1, vec![0x02]),
            (-64, vec![0x7f]),
            (64, vec![0x80, 0x01]),
            (i32::MAX, vec![0xfe, 0xff, 0xff, 0xff, 0x0f]),
            (i32::MIN, vec![0xff, 0xff, 0xff, 0xff, 0x0f]),
        ] {
            assert_eq!(written(|w| w.put_varint(v)), bytes);
            assert_eq!(varint(&bytes), Ok((&[][..], v)));
        }
        for v in [0i64, -1, 1, i64::MAX, i64::MIN, 1 << 40] {
            let bytes = written(|w| w.put_varlong(v));
            assert_eq!(varlong(&bytes), Ok((&[][..], v)));
        }
        assert_eq!(written(|w| w.put_varlong(i64::MIN)).len(), 10);
    }

    #[test]
    fn strings_classic_and_compact() {
        let mut w = Writer::new();
        w.put_string("ab", false).unwrap();
        w.put_string("ab", true).unwrap();
        w.put_nullable_string(None, false, true, "x").unwrap();
        w.put_nullable_string(None, true, true, "x").unwrap();
        let b = w.into_bytes();
        assert_eq!(b, [0, 2, b'a', b'b', 3, b'a', b'b', 0xff, 0xff, 0]);
        let (r, s) = string(&b, false, "x").unwrap();
        assert_eq!(s, "ab");
        let (r, s) = string(r, true, "x").unwrap();
        assert_eq!(s, "ab");
        let (r, s) = nullable_string(r, false, true, "x").unwrap();
        assert_eq!(s, None);
        let (r, s) = nullable_string(r, true, true, "x").unwrap();
        assert_eq!((r, s), (&[][..], None));
    }

    #[test]
    fn null_where_not_allowed() {
        assert_eq!(
            string(&[0xff, 0xff], false, "Name"),
            Err(nom::Err::Error(DecodeError::NullNotAllowed("Name")))
        );
        let mut w = Writer::new();
        assert_eq!(
            w.put_nullable_string(None, false, false, "Name"),
            Err(EncodeError::NullNotAllowed("Name"))
        );
        assert!(matches!(
            string(&[0xff, 0xfe], false, "Name"),
            Err(nom::Err::Error(DecodeError::InvalidLength(-2)))
        ));
    }

    #[test]
    fn bytes_and_arrays_null_encodings() {
        let mut w = Writer::new();
        w.put_nullable_bytes(None, false, true, "x").unwrap();
        w.put_nullable_bytes(None, true, true, "x").unwrap();
        w.put_bytes(&[9], true).unwrap();
        w.put_array_len(None, false).unwrap();
        w.put_array_len(None, true).unwrap();
        w.put_array_len(Some(1), true).unwrap();
        assert_eq!(
            w.into_bytes(),
            [
                0xff, 0xff, 0xff, 0xff, 0, 2, 9, 0xff, 0xff, 0xff, 0xff, 0, 2
            ]
        );
        assert_eq!(nullable_bytes(&[0], true, true, "x"), Ok((&[][..], None)));
        assert_eq!(bytes(&[1], true, "x"), Ok((&[][..], vec![])));
        assert_eq!(
            nullable_array(&[0xff, 0xff, 0xff, 0xff], false, true, "x", int8),
            Ok((&[][..], None))
        );
    }

    #[test]
    fn claimed_lengths_beyond_input_fail_before_allocating() {
        let huge_array = [0x7f, 0xff, 0xff, 0xff];
        assert!(matches!(
            array(&huge_array, false, "x", |i| Ok((i, ()))),
            Err(nom::Err::Error(DecodeError::LengthExceedsInput { .. }))
        ));
        assert!(matches!(
            bytes(&[0x7f, 0xff, 0xff, 0xff, 1], false, "x"),
            Err(nom::Err::Error(DecodeError::LengthExceedsInput { .. }))
        ));
        assert!(matches!(
            string(&[0x00, 0x05, b'a'], false, "x"),
            Err(nom::Err::Error(DecodeError::LengthExceedsInput { .. }))
        ));
        assert!(matches!(
            tagged_fields(&[0x7f], |_, _| Ok(())),
            Err(nom::Err::Error(DecodeError::LengthExceedsInput { .. }))
        ));
    }

    #[test]
    fn invalid_utf8_is_an_error() {
        assert_eq!(
            string(&[0, 2, 0xc3, 0x28], false, "x"),
            Err(nom::Err::Error(DecodeError::InvalidUtf8))
        );
    }

    #[test]
    fn truncated_ints() {
        assert_eq!(
            int32(&[0, 0, 1]),
            Err(nom::Err::Error(DecodeError::Truncated))
        );
        assert_eq!(int16(&[1, 2, 3]), Ok((&[3][..], 0x0102)));
    }

    #[test]
    fn tagged_fields_skip_unknown_and_read_known() {
        let mut t = TaggedFields::new();
        t.field(0, |w| {
            w.put_i32(7);
            Ok(())
        })
        .unwrap();
        t.field(5, |w| {
            w.put_i8(1);
            Ok(())
        })
        .unwrap();
        let mut w = Writer::new();
        w.put_tagged_fields(t).unwrap();
        let b = w.into_bytes();
        assert_eq!(b, [2, 0, 4, 0, 0, 0, 7, 5, 1, 1]);
        let mut seen = 0;
        let (rest, ()) = tagged_fields(&b, |tag, data| {
            if tag == 0 {
                seen = int32(data)?.1;
            }
            Ok(())
        })
        .unwrap();
        assert!(rest.is_empty());
        assert_eq!(seen, 7);
    }

    #[test]
    fn segment_records_become_splices() {
        let seg = SegmentRef {
            partition: 1,
            base_offset: 0,
            start: 10,
            len: 100,
        };
        let mut w = Writer::new();
        w.put_i8(5);
        w.put_records(&Records::Segment(seg), false).unwrap();
        w.put_i8(6);
        assert_eq!(w.wire_len(), 1 + 4 + 100 + 1);
        let r = w.into_response();
        assert_eq!(r.bytes, [5, 0, 0, 0, 100, 6]);
        assert_eq!(
            r.splices,
            [Splice {
                at: 5,
                segment: seg
            }]
        );
        assert_eq!(r.len(), 106);
    }

    #[test]
    fn uuid_displays_as_kafka_base64() {
        assert_eq!(Uuid::ZERO.to_string(), "AAAAAAAAAAAAAAAAAAAAAA");
        let id = Uuid([0xff; 16]);
        assert_eq!(id.to_string(), "_____________________w");
        assert_eq!(uuid(&[1; 17]), Ok((&[1][..], Uuid([1; 16]))));
    }
}
