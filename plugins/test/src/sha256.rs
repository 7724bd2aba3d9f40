//! SHA-256 (FIPS 180-4), for fingerprints of test sources recorded in the
//! rule's facts. The rule has no hashing dependency, and a fingerprint of a
//! few kilobytes once per check does not need a fast one.

/// The lowercase hex SHA-256 digest of `data`.
pub fn hex(data: &[u8]) -> String {
    let k = round_constants();
    let mut h = initial_state();
    let bit_len = u64::try_from(data.len())
        .unwrap_or(u64::MAX)
        .wrapping_mul(8);
    let mut message = data.to_vec();
    message.push(0x80);
    while message.len() % 64 != 56 {
        message.push(0);
    }
    message.extend_from_slice(&bit_len.to_be_bytes());

    for block in message.chunks_exact(64) {
        let mut w = [0u32; 64];
        for (i, word) in block.chunks_exact(4).enumerate() {
            w[i] = u32::from_be_bytes([word[0], word[1], word[2], word[3]]);
        }
        for i in 16..64 {
            let s0 = w[i - 15].rotate_right(7) ^ w[i - 15].rotate_right(18) ^ (w[i - 15] >> 3);
            let s1 = w[i - 2].rotate_right(17) ^ w[i - 2].rotate_right(19) ^ (w[i - 2] >> 10);
            w[i] = w[i - 16]
                .wrapping_add(s0)
                .wrapping_add(w[i - 7])
                .wrapping_add(s1);
        }
        let [mut a, mut b, mut c, mut d, mut e, mut f, mut g, mut hh] = h;
        for i in 0..64 {
            let s1 = e.rotate_right(6) ^ e.rotate_right(11) ^ e.rotate_right(25);
            let choose = (e & f) ^ (!e & g);
            let t1 = hh
                .wrapping_add(s1)
                .wrapping_add(choose)
                .wrapping_add(k[i])
                .wrapping_add(w[i]);
            let s0 = a.rotate_right(2) ^ a.rotate_right(13) ^ a.rotate_right(22);
            let majority = (a & b) ^ (a & c) ^ (b & c);
            let t2 = s0.wrapping_add(majority);
            hh = g;
            g = f;
            f = e;
            e = d.wrapping_add(t1);
            d = c;
            c = b;
            b = a;
            a = t1.wrapping_add(t2);
        }
        for (state, add) in h.iter_mut().zip([a, b, c, d, e, f, g, hh]) {
            *state = state.wrapping_add(add);
        }
    }
    h.iter().map(|word| format!("{word:08x}")).collect()
}

/// The first `n` primes.
fn primes(n: usize) -> Vec<u128> {
    let mut found: Vec<u128> = Vec::with_capacity(n);
    let mut candidate = 2u128;
    while found.len() < n {
        if found.iter().all(|p| !candidate.is_multiple_of(*p)) {
            found.push(candidate);
        }
        candidate += 1;
    }
    found
}

/// The largest `x` with `x^power <= value`.
fn integer_root(value: u128, power: u32) -> u128 {
    let (mut low, mut high) = (0u128, 1u128 << 64);
    while low < high {
        let mid = low + (high - low).div_ceil(2);
        match mid.checked_pow(power) {
            Some(p) if p <= value => low = mid,
            _ => high = mid - 1,
        }
    }
    low
}

/// The first 32 bits of the fractional parts of the square roots of the
/// first 8 primes, computed exactly rather than transcribed.
fn initial_state() -> [u32; 8] {
    let mut h = [0u32; 8];
    for (slot, p) in h.iter_mut().zip(primes(8)) {
        // floor(sqrt(p) * 2^32), whose low 32 bits are the fraction's.
        *slot = integer_root(p << 64, 2) as u32;
    }
    h
}

/// The first 32 bits of the fractional parts of the cube roots of the first
/// 64 primes.
fn round_constants() -> [u32; 64] {
    let mut k = [0u32; 64];
    for (slot, p) in k.iter_mut().zip(primes(64)) {
        *slot = integer_root(p << 96, 3) as u32;
    }
    k
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_digests() {
        assert_eq!(
            hex(b""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(
            hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        // Two blocks: the padding spills into a second one.
        assert_eq!(
            hex(b"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"
        );
    }

    #[test]
    fn constants_start_as_published() {
        assert_eq!(initial_state()[0], 0x6a09_e667);
        assert_eq!(round_constants()[0], 0x428a_2f98);
        assert_eq!(round_constants()[63], 0xc671_78f2);
    }
}
