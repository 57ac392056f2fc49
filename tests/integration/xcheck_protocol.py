#!/usr/bin/env python3
"""Independent check of docs/protocol.md's test vectors (section 13).

Re-implements the wire format from the spec alone - Python's `cryptography`
for Ed25519, X25519 and ChaCha20-Poly1305, hashlib for BLAKE2b, HChaCha20 by
hand from draft-irtf-cfrg-xchacha - builds every vector from the inputs of
13.1 and compares it with the hex printed in the document. The C tests check
the same hex against the C codec, so together they show the document, the C
code and a second implementation agree byte for byte.

    python3 tests/unit/device/xcheck_protocol.py   (needs python3-cryptography)
Not part of `make test`: it needs a Python package the build does not.
"""
import base64, hashlib, os, re, struct, sys

from cryptography.hazmat.primitives import serialization as ser
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305

DOC = os.path.join(os.path.dirname(__file__), '..', '..', 'docs', 'protocol.md')
doc = open(DOC, encoding='utf-8').read()


def block(label):
    """The indented hex block that follows `label` in the document."""
    i = doc.index(label)
    m = re.compile(r'\n\n((?:    [0-9a-f]+\n)+)').search(doc, i)
    return bytes.fromhex(''.join(m.group(1).split()))


def keyline(name):
    return bytes.fromhex(re.search(r'^    ' + re.escape(name) + r'\s+([0-9a-f]{64})$', doc, re.M).group(1))


def raw(pub):
    return pub.public_bytes(ser.Encoding.Raw, ser.PublicFormat.Raw)


def rotl(v, c):
    return ((v << c) & 0xffffffff) | (v >> (32 - c))


def qr(s, a, b, c, d):
    s[a] = (s[a] + s[b]) & 0xffffffff; s[d] = rotl(s[d] ^ s[a], 16)
    s[c] = (s[c] + s[d]) & 0xffffffff; s[b] = rotl(s[b] ^ s[c], 12)
    s[a] = (s[a] + s[b]) & 0xffffffff; s[d] = rotl(s[d] ^ s[a], 8)
    s[c] = (s[c] + s[d]) & 0xffffffff; s[b] = rotl(s[b] ^ s[c], 7)


def hchacha20(key, n16):
    s = list(struct.unpack('<4I', b'expand 32-byte k')) + list(struct.unpack('<8I', key)) + \
        list(struct.unpack('<4I', n16))
    for _ in range(10):
        qr(s, 0, 4, 8, 12); qr(s, 1, 5, 9, 13); qr(s, 2, 6, 10, 14); qr(s, 3, 7, 11, 15)
        qr(s, 0, 5, 10, 15); qr(s, 1, 6, 11, 12); qr(s, 2, 7, 8, 13); qr(s, 3, 4, 9, 14)
    return struct.pack('<8I', *(s[0:4] + s[12:16]))


def seal(k, nonce, pt, ad):
    return ChaCha20Poly1305(hchacha20(k, nonce[:16])).encrypt(b'\0' * 4 + nonce[16:], pt, ad)


def u16(v):
    return struct.pack('>H', v)


checks = 0


def same(what, got, want):
    global checks
    if got != want:
        sys.exit('MISMATCH %s\n  doc:    %s\n  python: %s' % (what, want.hex(), got.hex()))
    checks += 1


ds, db = bytes(range(0x00, 0x20)), bytes(range(0x20, 0x40))
gs, gb = bytes(range(0x40, 0x60)), bytes(range(0x60, 0x80))
nonce = bytes(range(0x80, 0x98))
dsk, gsk = Ed25519PrivateKey.from_private_bytes(ds), Ed25519PrivateKey.from_private_bytes(gs)
dbx, gbx = X25519PrivateKey.from_private_bytes(db), X25519PrivateKey.from_private_bytes(gb)
same('device sign_pk', raw(dsk.public_key()), keyline('device sign_pk'))
same('device box_pk', raw(dbx.public_key()), keyline('device box_pk'))
same('gateway sign_pk', raw(gsk.public_key()), keyline('gateway sign_pk'))
same('gateway box_pk', raw(gbx.public_key()), keyline('gateway box_pk'))
s = gbx.exchange(dbx.public_key())
same('X25519 s', s, keyline('X25519 s'))
k = hchacha20(s, b'\0' * 16)
same('shared key', k, keyline('shared key k'))
same('shared key (device side)', hchacha20(dbx.exchange(gbx.public_key()), b'\0' * 16), k)

ID = b'courier-01'
TOKEN = b'SW1:NCK6YVK9HK*T3U1-OIO%3M2XSN$IZ+QNQ8AEO.71IT9N4'


def scan(seq, t, scanned, ev, loc):
    m = bytes([1, 1]) + u16(len(ID)) + ID + struct.pack('>QQQ', seq, t, scanned) + \
        bytes([ev, 1 if loc else 0]) + u16(len(TOKEN)) + TOKEN
    if loc:
        m += struct.pack('>iiH', *loc)
    return m + dsk.sign(m)


A = scan(42, 1767225600000, 1767225598500, 4, (31230416, 121473701, 12))
B = scan(43, 1767225660000, 1767225660000, 6, (-34603722, -58381592, 65535))
C = scan(44, 1767226000000, 1767225900000, 1, None)
same('scan A', A, block('**Scan A**'))
same('scan B', B, block('**Scan B**'))
same('scan C', C, block('**Scan C**'))
dA, dB = hashlib.blake2b(A, digest_size=32).digest(), hashlib.blake2b(B, digest_size=32).digest()
same('digest A', dA, keyline('BLAKE2b-256(scan A)'))
same('digest B', dB, keyline('BLAKE2b-256(scan B)'))

masked = '{"name":"张*明","phone":"138*******8","address":"上海市浦东新区世纪大道***"}'.encode()
contact = '{"name":"张三明","phone":"13812345678","address":"上海市浦东新区世纪大道100号 12楼 1203室"}'.encode()
assert ('`%s`' % masked.decode()) in doc and ('`%s`' % contact.decode()) in doc


def reply(seq, dg, t, status, reason, wb, masked, contact):
    h = bytes([1, 2]) + u16(len(ID)) + ID + struct.pack('>Q', seq) + dg + struct.pack('>Q', t) + \
        bytes([status]) + u16(reason) + u16(len(wb)) + wb + u16(len(masked)) + masked
    sealed = nonce + seal(k, nonce, contact, h) if contact else b''
    m = h + u16(len(sealed)) + sealed
    return m + gsk.sign(m)


same('reply 1', reply(42, dA, 1767225600123, 1, 0, b'SW2601010000017', masked, contact),
     block('**Reply 1**'))
same('reply 2', reply(43, dB, 1767226020000, 3, 10, b'', b'', None), block('**Reply 2**'))
enrol = '{"id":"courier-01","sign_pk":"%s","box_pk":"%s"}' % (
    base64.b64encode(raw(dsk.public_key())).decode(), base64.b64encode(raw(dbx.public_key())).decode())
assert ('    ' + enrol + '\n') in doc, enrol
checks += 1
kf = b'SMDK' + bytes([1, len(ID)]) + ID.ljust(32, b'\0') + ds + db
kf += hashlib.blake2b(kf, digest_size=16).digest()
same('key file', kf, block('Key file image of the device'))
print('docs/protocol.md vectors: %d checks, all match an independent implementation' % checks)
