//! A gzip bomb built by hand: one gzip member (RFC 1952) whose single DEFLATE block (RFC 1951 §3.2.7,
//! dynamic Huffman codes) inflates to `len` zero bytes at about 1032 bytes per byte, the format's limit.
//!
//! The block's codes are chosen so that the bulk of it costs two bits per 258 bytes: the length code 285
//! (length 258) gets the one-bit code `0`, and the only distance code, 0 (distance 1), gets the one-bit code
//! `0` too, so every copy of the previous 258 zeros is the bits `00`. Compressing 1 GiB with flate2 instead
//! would take seconds of CPU in a debug build; writing the bits takes none.

/// Bits packed as DEFLATE packs them: from the least significant bit of each byte up.
struct Bits {
    out: Vec<u8>,
    pending: u32,
    count: u32,
}

impl Bits {
    fn new(out: Vec<u8>) -> Self {
        Bits { out, pending: 0, count: 0 }
    }

    /// A number of `width` bits, least significant bit first (header fields and extra bits).
    fn number(&mut self, value: u32, width: u32) {
        for i in 0..width {
            self.bit((value >> i) & 1);
        }
    }

    /// A Huffman code of `width` bits, most significant bit first (RFC 1951 §3.1.1).
    fn code(&mut self, code: u32, width: u32) {
        for i in (0..width).rev() {
            self.bit((code >> i) & 1);
        }
    }

    fn bit(&mut self, bit: u32) {
        self.pending |= bit << self.count;
        self.count += 1;
        if self.count == 8 {
            self.out.push(self.pending as u8);
            self.pending = 0;
            self.count = 0;
        }
    }

    /// `count` zero bits, a byte at a time where it can.
    fn zeros(&mut self, mut count: u64) {
        while count > 0 && self.count != 0 {
            self.bit(0);
            count -= 1;
        }
        self.out.resize(self.out.len() + (count / 8) as usize, 0);
        for _ in 0..count % 8 {
            self.bit(0);
        }
    }

    /// The bytes, the last one padded with zero bits.
    fn finish(mut self) -> Vec<u8> {
        if self.count > 0 {
            self.out.push(self.pending as u8);
        }
        self.out
    }
}

/// The order in which the code-length alphabet's code lengths are sent (RFC 1951 §3.2.7).
const CODE_LENGTH_ORDER: [usize; 19] = [16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15];

/// Code-length alphabet symbol 18: a run of 11 to 138 zero lengths, the run length - 11 in 7 extra bits.
const ZERO_RUN: usize = 18;

/// The canonical Huffman codes (RFC 1951 §3.2.2) used below, written out: code-length symbols 18 → `0`,
/// 1 → `10`, 2 → `11`; literal/length symbols 285 → `0`, 0 → `10`, 256 → `11`; distance 0 → `0`.
const CL_ZERO_RUN: (u32, u32) = (0b0, 1);
const CL_ONE: (u32, u32) = (0b10, 2);
const CL_TWO: (u32, u32) = (0b11, 2);
const LIT_ZERO: (u32, u32) = (0b10, 2);
const END_OF_BLOCK: (u32, u32) = (0b11, 2);
const LENGTH_258: (u32, u32) = (0b0, 1);
const DISTANCE_1: (u32, u32) = (0b0, 1);

fn zero_run(bits: &mut Bits, mut run: u32) {
    while run > 0 {
        let n = run.min(138);
        assert!(n >= 11, "runs here are 11 zeros or more");
        bits.code(CL_ZERO_RUN.0, CL_ZERO_RUN.1);
        bits.number(n - 11, 7);
        run -= n;
    }
}

/// The DEFLATE block: its header, then one literal zero, copies of 258 zeros, the literals left over, end.
fn deflate_zeros(len: u64, out: Vec<u8>) -> Vec<u8> {
    assert!(len >= 1, "the block starts with one literal zero");
    let mut bits = Bits::new(out);
    bits.number(1, 1); // BFINAL
    bits.number(0b10, 2); // BTYPE: dynamic Huffman codes
    bits.number(286 - 257, 5); // HLIT: literal/length codes - 257, here codes 0..=285
    bits.number(0, 5); // HDIST: distance codes - 1, here one code
    bits.number(18 - 4, 4); // HCLEN: code-length code lengths - 4, here up to symbol 1 in CODE_LENGTH_ORDER
    let mut code_length_lengths = [0u32; 19];
    code_length_lengths[ZERO_RUN] = CL_ZERO_RUN.1;
    code_length_lengths[1] = CL_ONE.1;
    code_length_lengths[2] = CL_TWO.1;
    for &symbol in &CODE_LENGTH_ORDER[..18] {
        bits.number(code_length_lengths[symbol], 3);
    }
    // Literal/length code lengths: 0 → 2, 1..=255 → 0, 256 → 2, 257..=284 → 0, 285 → 1.
    bits.code(CL_TWO.0, CL_TWO.1);
    zero_run(&mut bits, 255);
    bits.code(CL_TWO.0, CL_TWO.1);
    zero_run(&mut bits, 28);
    bits.code(CL_ONE.0, CL_ONE.1);
    // Distance code lengths: 0 → 1.
    bits.code(CL_ONE.0, CL_ONE.1);

    bits.code(LIT_ZERO.0, LIT_ZERO.1);
    let copies = (len - 1) / 258;
    assert_eq!((LENGTH_258.0, DISTANCE_1.0), (0, 0), "a copy is written as zero bits");
    bits.zeros(copies * u64::from(LENGTH_258.1 + DISTANCE_1.1));
    for _ in 0..(len - 1) % 258 {
        bits.code(LIT_ZERO.0, LIT_ZERO.1);
    }
    bits.code(END_OF_BLOCK.0, END_OF_BLOCK.1);
    bits.finish()
}

/// The CRC-32 of `len` zero bytes, combined from 1 MiB pieces rather than computed over all of them.
fn crc_of_zeros(len: u64) -> u32 {
    let piece = vec![0u8; 1 << 20];
    let mut whole_piece = flate2::Crc::new();
    whole_piece.update(&piece);
    let mut crc = flate2::Crc::new();
    for _ in 0..len >> 20 {
        crc.combine(&whole_piece);
    }
    crc.update(&piece[..(len % (1 << 20)) as usize]);
    crc.sum()
}

/// A gzip member that inflates to `len` zero bytes.
pub fn gzip_zeros(len: u64) -> Vec<u8> {
    // ID1 ID2, CM = deflate, FLG = none, MTIME = 0, XFL = 0, OS = unknown.
    let header = vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff];
    let mut member = deflate_zeros(len, header);
    member.extend_from_slice(&crc_of_zeros(len).to_le_bytes());
    member.extend_from_slice(&(len as u32).to_le_bytes()); // ISIZE: the length modulo 2^32
    member
}

#[test]
fn the_bomb_is_a_valid_gzip_member_of_exactly_len_zeros() {
    use std::io::Read;
    for len in [1, 2, 258, 259, 260, 1000, 3 << 20] {
        let bomb = gzip_zeros(len);
        let mut inflated = Vec::new();
        // GzDecoder checks the CRC and ISIZE at the end of the member.
        flate2::read::GzDecoder::new(&bomb[..]).read_to_end(&mut inflated).unwrap_or_else(|e| panic!("{len}: {e}"));
        assert_eq!(inflated.len() as u64, len);
        assert!(inflated.iter().all(|&b| b == 0), "{len}");
    }
    let bomb = gzip_zeros(1 << 30);
    assert!(bomb.len() < 1_100_000, "1 GiB in {} bytes", bomb.len());
}
