#!/usr/bin/env python3
"""Independent implementation of docs/protocol.md, checked against the page
and against a running gateway.

Written from the page alone - Python's `cryptography` for Ed25519, X25519
and ChaCha20-Poly1305, hashlib for BLAKE2b, HChaCha20 by hand from
draft-irtf-cfrg-xchacha, and a minimal MQTT 3.1.1 client on a plain socket -
with no Smile code.

    xcheck_protocol.py              rebuild every vector of section 13 from its
                                    inputs and compare with the page's hex
    xcheck_protocol.py enrolment    print the vector device's enrolment JSON
    xcheck_protocol.py live         talk to a real gateway through a real broker
                                    as the vector device (environment: GW_URL,
                                    MERCHANT_KEY, MQTT_PORT, GW_SIGN_PK,
                                    GW_BOX_PK, OBSERVER_PW, QUOTA); prints
                                    "PASS what" / "FAIL what: why" lines

The C tests check the same hex against the C codec, so together they show the
page, the C code and a second implementation agree byte for byte; the live
mode shows the running gateway says what the page says (tests/integration/
test_protocol_xcheck.sh runs all three).
"""
import base64, hashlib, json, os, re, socket, struct, sys, time, urllib.request

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

masked = '{"name":"张**","phone":"138*******8","address":"上海市 浦东新区 世纪大道100号 ****"}'.encode()
contact = '{"name":"张三明","phone":"13812345678","address":"上海市 浦东新区 世纪大道100号 12楼 1203室"}'.encode()
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

# 9: a device's broker password (user name = device id)
def mqtt_password(k, device_id):
    h = hashlib.blake2b(b'smile/v1 mqtt-password\0' + device_id, key=k, digest_size=32).digest()
    return base64.urlsafe_b64encode(h).rstrip(b'=').decode()


pw_doc = re.search(r'^    MQTT password\s+(\S+)$', doc, re.M).group(1)
same('mqtt password', mqtt_password(k, ID).encode(), pw_doc.encode())

# 5.3: the contact address is built from the address parts of 13.1 by rule
def contact_address(parts):
    out, prev = [], None
    for name in ('province', 'city', 'district'):
        v = parts.get(name, '').strip(' ')
        if v and v != prev:
            out.append(v)
        if v:
            prev = v
    for name in ('street', 'detail'):
        v = parts.get(name, '').strip(' ')
        if v:
            out.append(v)
    return ' '.join(out)


ADDR = json.loads(re.search(r'^\| recipient address \| `(\{.*\})` \|$', doc, re.M).group(1))
same('contact address rule', contact_address(ADDR).encode(), json.loads(contact)['address'].encode())
MODE = sys.argv[1] if len(sys.argv) > 1 else 'vectors'
if MODE == 'vectors':
    print('docs/protocol.md vectors: %d checks, all match an independent implementation' % checks)
    sys.exit(0)
if MODE == 'enrolment':
    print(enrol)
    sys.exit(0)

# ---------------------------------------------------------------- live mode
# A minimal MQTT 3.1.1 client (QoS 1), written from the MQTT standard.

def varint(n):
    out = b''
    while True:
        b, n = n % 128, n // 128
        out += bytes([b | (0x80 if n else 0)])
        if not n:
            return out


def mstr(b):
    return struct.pack('>H', len(b)) + b


class Mqtt:
    def __init__(self, port, client_id, user, password):
        self.s = socket.create_connection(('127.0.0.1', port), timeout=10)
        self.pid = 0
        self.inbox = []
        flags = 0x02 | (0x80 if user else 0) | (0x40 if password else 0)
        body = mstr(b'MQTT') + bytes([4, flags]) + struct.pack('>H', 60) + mstr(client_id.encode())
        if user:
            body += mstr(user.encode())
        if password:
            body += mstr(password.encode())
        self.send(0x10, body)
        t, b = self.packet()
        self.connack = b[1] if t == 0x20 else -1

    def send(self, h, body):
        self.s.sendall(bytes([h]) + varint(len(body)) + body)

    def recv(self, n):
        out = b''
        while len(out) < n:
            c = self.s.recv(n - len(out))
            if not c:
                raise EOFError('broker closed the connection')
            out += c
        return out

    def packet(self):
        h = self.recv(1)[0]
        n, mul = 0, 1
        while True:
            b = self.recv(1)[0]
            n += (b & 0x7f) * mul
            mul *= 128
            if not b & 0x80:
                break
        return h & 0xf0, self.recv(n) if n else b''

    def next_id(self):
        self.pid = self.pid % 65535 + 1
        return self.pid

    def handle(self, t, b):
        if t == 0x30:
            n = struct.unpack('>H', b[:2])[0]
            topic, rest = b[2:2 + n].decode(), b[2 + n:]
            pid, payload = struct.unpack('>H', rest[:2])[0], rest[2:]  # QoS 1 only here
            self.send(0x40, struct.pack('>H', pid))
            self.inbox.append((topic, payload))
            return None
        return t

    def wait_for(self, want, seconds=5):
        self.s.settimeout(seconds)
        while True:
            t, b = self.packet()
            if self.handle(t, b) == want:
                return b

    def subscribe(self, topic):
        self.send(0x82, struct.pack('>H', self.next_id()) + mstr(topic.encode()) + b'\x01')
        return self.wait_for(0x90)[-1]

    def publish(self, topic, payload):
        self.send(0x32, mstr(topic.encode()) + struct.pack('>H', self.next_id()) + payload)
        self.wait_for(0x40)

    def message(self, seconds=5):
        end = time.time() + seconds
        while not self.inbox:
            left = end - time.time()
            if left <= 0:
                return None, None
            self.s.settimeout(left)
            try:
                t, b = self.packet()
            except socket.timeout:
                return None, None
            self.handle(t, b)
        return self.inbox.pop(0)


results = {'pass': 0, 'fail': 0}


def check(what, ok, why=''):
    results['pass' if ok else 'fail'] += 1
    print(('PASS %s' % what) if ok else ('FAIL %s: %s' % (what, why)), flush=True)
    return ok


def http(method, path, key, body=None):
    req = urllib.request.Request(os.environ['GW_URL'] + path, method=method,
                                 data=json.dumps(body).encode() if body is not None else None,
                                 headers={'Authorization': 'Bearer ' + key,
                                          'Content-Type': 'application/json'})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, json.loads(r.read() or b'null')
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b'null')


def parse_reply(m):
    """Section 5.1, refusing what 5.4 refuses; returns a dict."""
    if len(m) < 126 or m[0] != 1 or m[1] != 2:
        raise ValueError('not a reply')
    o = 2
    idn = struct.unpack('>H', m[o:o + 2])[0]; o += 2
    r = {'device_id': m[o:o + idn]}; o += idn
    r['seq'], = struct.unpack('>Q', m[o:o + 8]); o += 8
    r['digest'] = m[o:o + 32]; o += 32
    r['time_ms'], = struct.unpack('>Q', m[o:o + 8]); o += 8
    r['status'] = m[o]; r['reason'], = struct.unpack('>H', m[o + 1:o + 3]); o += 3
    n = struct.unpack('>H', m[o:o + 2])[0]; r['waybill'] = m[o + 2:o + 2 + n]; o += 2 + n
    n = struct.unpack('>H', m[o:o + 2])[0]; r['masked'] = m[o + 2:o + 2 + n]; o += 2 + n
    r['ad'] = m[:o]
    n = struct.unpack('>H', m[o:o + 2])[0]; r['sealed'] = m[o + 2:o + 2 + n]; o += 2 + n
    if len(m) - o != 64:
        raise ValueError('trailing or missing bytes')
    r['signed'], r['sig'] = m[:o], m[o:]
    return r


STATUS = {1: 'revealed', 2: 'recorded', 3: 'denied', 4: 'error'}
REASON = {}
for code, name in re.findall(r'^\| (\d+) \| `([a-z_]+)` \|', doc[doc.index('### 6.2'):doc.index('## 7.')], re.M):
    REASON[int(code)] = name


def live():
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
    from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PublicKey
    env = os.environ
    gw_sign = Ed25519PublicKey.from_public_bytes(base64.b64decode(env['GW_SIGN_PK']))
    gw_box = base64.b64decode(env['GW_BOX_PK'])
    k_live = hchacha20(dbx.exchange(X25519PublicKey.from_public_bytes(gw_box)), b'\0' * 16)
    port = int(env['MQTT_PORT'])
    quota = int(env.get('QUOTA', '3'))
    dev = ID.decode()

    # 9: the device logs in as its id with the derived password
    bad = Mqtt(port, 'smile-dev-x', dev, 'not-the-password')
    check('9: a wrong broker password is refused', bad.connack not in (0, -1), 'CONNACK %d' % bad.connack)
    c = Mqtt(port, 'smile-dev-' + dev, dev, mqtt_password(k_live, ID))
    if not check('9: the device logs in with the password derived as the page says', c.connack == 0,
                 'CONNACK %d' % c.connack):
        return
    c.subscribe('smile/v1/dev/%s/reply' % dev)
    obs = Mqtt(port, 'xcheck-observer', 'smile-observer', env['OBSERVER_PW'])
    obs.subscribe('smile/v1/merchant/+/events')
    obs.subscribe('smile/v1/alerts')

    def exchange(msg, what):
        c.publish('smile/v1/dev/%s/scan' % dev, msg)
        topic, payload = c.message(8)
        if not check(what + ': a reply arrives', payload is not None, 'none within 8 s'):
            return None
        r = parse_reply(payload)
        try:
            gw_sign.verify(r['sig'], r['signed'])
            sig_ok = True
        except Exception:
            sig_ok = False
        check(what + ': signed by the gateway', sig_ok)
        check(what + ': for this device (topic and id)',
              topic == 'smile/v1/dev/%s/reply' % dev and r['device_id'] == ID)
        check(what + ': quotes the digest of every byte sent',
              r['digest'] == hashlib.blake2b(msg, digest_size=32).digest())
        r['status_name'], r['reason_name'] = STATUS.get(r['status']), REASON.get(r['reason'])
        return r

    # 7.1 step 1: unreadable scans are answered, seq 0, routed by the topic
    for what, msg, reason in (('empty scan', b'', 'bad_message'),
                              ('over-size scan', bytes([1, 1]) + b'x' * 298, 'bad_message'),
                              ('over-size scan of another version', bytes([2, 1]) + b'x' * 298,
                               'protocol_version'),
                              ('truncated scan', A[:100], 'bad_message')):
        r = exchange(msg, what)
        if r:
            check(what + ': error / ' + reason, (r['status_name'], r['reason_name']) == ('error', reason),
                  '%s / %s' % (r['status_name'], r['reason_name']))
            check(what + ': seq 0, nothing else', r['seq'] == 0 and r['waybill'] == b'' and
                  r['masked'] == b'' and r['sealed'] == b'')

    # a shipment for the recipient of 13.1
    st, body = http('POST', '/v1/shipments', env['MERCHANT_KEY'], {
        'recipient': {'name': json.loads(contact)['name'], 'phone': json.loads(contact)['phone'],
                      'address': ADDR},
        'sender': {'name': '王小二', 'phone': '02785699449',
                   'address': {'country': 'CN', 'province': '湖北省', 'city': '武汉市',
                               'street': '泛海国际SOHO城', 'detail': '7栋1201室'}},
        'merchant_ref': 'XCHECK-1', 'weight_g': 500})
    if not check('a shipment is issued', st == 201, '%s %s' % (st, body)):
        return
    waybill, token = body['waybill'].encode(), body['token'].encode()

    seq = [int(time.time())]

    def live_scan(ev, extra_time=0):
        seq[0] += 1
        now = int(time.time() * 1000)
        m = bytes([1, 1]) + u16(len(ID)) + ID + struct.pack('>QQQ', seq[0], now, now) + \
            bytes([ev, 0]) + u16(len(token)) + token
        return m + dsk.sign(m), now

    msg, scanned = live_scan(4)
    r = exchange(msg, 'out_for_delivery')
    if not r:
        return
    check('out_for_delivery: revealed / ok', (r['status_name'], r['reason_name']) == ('revealed', 'ok'),
          '%s / %s' % (r['status_name'], r['reason_name']))
    check('reply: seq and waybill', r['seq'] == seq[0] and r['waybill'] == waybill)
    mv = json.loads(r['masked'])
    want = json.loads(masked)
    check('5.3: the masked view has name, phone, address at the top, as in 13.1',
          all(mv.get(f) == want[f] for f in ('name', 'phone', 'address')),
          'got %s' % {f: mv.get(f) for f in ('name', 'phone', 'address')})
    try:
        nonce = r['sealed'][:24]
        pt = ChaCha20Poly1305(hchacha20(k_live, nonce[:16])).decrypt(b'\0' * 4 + nonce[16:], r['sealed'][24:],
                                                                     r['ad'])
    except Exception as e:
        pt = None
    check('5.2: the contact opens with the shared key and the header as associated data', pt is not None)
    check('5.3: the contact is byte for byte the contact of 13.1 (address built by its rule)',
          pt == contact, repr(pt))

    # 10.1: the merchant event
    topic, payload = obs.message(5)
    ev = json.loads(payload) if payload else {}
    check('10.1: an event on the merchant topic', topic is not None and topic.startswith('smile/v1/merchant/')
          and topic.endswith('/events'), topic)
    members = {'v', 'type', 'event_id', 'source', 'waybill', 'merchant_ref', 'event', 'time', 'time_ms',
               'recorded_ms', 'device_role'}
    check('10.1: the event has exactly the members of the page', set(ev) == members,
          'got %s' % sorted(ev))
    check('10.1: its values', ev.get('v') == 1 and ev.get('type') == 'event' and
          ev.get('waybill') == waybill.decode() and ev.get('merchant_ref') == 'XCHECK-1' and
          ev.get('event') == 'out_for_delivery' and ev.get('time_ms') == scanned and
          ev.get('device_role') == 'courier' and ev.get('source') == 'scan' and
          isinstance(ev.get('recorded_ms'), int) and str(ev.get('event_id', '')).startswith('ev_'),
          json.dumps(ev))
    check('10.1: time is time_ms in RFC 3339 UTC with milliseconds',
          ev.get('time') == time.strftime('%Y-%m-%dT%H:%M:%S', time.gmtime(scanned // 1000)) +
          '.%03dZ' % (scanned % 1000), ev.get('time'))
    check('10: no device id and no personal data in the event',
          dev not in payload.decode() and '张' not in payload.decode() and '138' not in payload.decode())

    # 10.1 / api.md: the HTTP listing holds the same objects
    st, lst = http('GET', '/v1/shipments/%s/events' % waybill.decode(), env['MERCHANT_KEY'])
    scans = [e for e in (lst or {}).get('events', []) if e.get('source') == 'scan']
    check('10.1: GET .../events lists the same object as the MQTT event', scans == [ev],
          json.dumps(lst))
    check('10.1: ... and never a device id', 'device' not in json.dumps(lst).replace('device_role', ''))

    # 10.2: over the quota, the alert
    got = []
    for i in range(quota):
        msg, _ = live_scan(4)
        r = exchange(msg, 'reveal %d' % (i + 2))
        got.append((r or {}).get('reason_name'))
    check('7.4 row 13: past the quota, denied / quota_exceeded', got[-1] == 'quota_exceeded', got)
    al = None
    for _ in range(quota + 3):
        topic, payload = obs.message(5)
        if topic == 'smile/v1/alerts':
            al = json.loads(payload)
            break
    if check('10.2: an alert on smile/v1/alerts', al is not None):
        check('10.2: the alert has exactly the members of the page',
              set(al) == {'v', 'type', 'alert_id', 'alert', 'time', 'time_ms', 'device_id', 'device_role',
                          'action', 'detail'}, 'got %s' % sorted(al))
        check('10.2: its values', al.get('v') == 1 and al.get('type') == 'alert' and
              al.get('alert') == 'quota_exceeded' and al.get('device_id') == dev and
              al.get('device_role') == 'courier' and al.get('action') == 'suspended' and
              str(al.get('alert_id', '')).startswith('al_') and isinstance(al.get('time_ms'), int) and
              al.get('detail') == {'reveals': quota, 'limit': quota, 'window_s': 86400}, json.dumps(al))


live()
print('%d passed, %d failed' % (results['pass'], results['fail']))
sys.exit(1 if results['fail'] else 0)
