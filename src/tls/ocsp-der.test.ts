import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  children,
  DerError,
  decodeGeneralizedTime,
  decodeOid,
  decodeSmallInt,
  encodeLength,
  encodeOid,
  encodeTlv,
  readOnly,
  readTlv,
  TAG,
} from './ocsp-der.ts';

const hex = (h: string) => Buffer.from(h.replace(/\s+/g, ''), 'hex');

describe('DER lengths', () => {
  const cases: [number, string][] = [
    [0, '00'],
    [1, '01'],
    [127, '7f'],
    [128, '8180'],
    [255, '81ff'],
    [256, '820100'],
    [65_535, '82ffff'],
    [65_536, '83010000'],
  ];
  for (const [length, encoded] of cases) {
    test(`${length} is encoded as ${encoded} and read back`, () => {
      assert.equal(encodeLength(length).toString('hex'), encoded);
      const tlv = readTlv(encodeTlv(TAG.octetString, Buffer.alloc(length, 7)));
      assert.equal(tlv.value.length, length);
      assert.equal(tlv.raw.length, 1 + encoded.length / 2 + length);
    });
  }
});

describe('reading TLVs refuses what is not definite DER inside its buffer', () => {
  const bad: [string, string, RegExp][] = [
    ['empty input', '', /truncated TLV/],
    ['a tag alone', '30', /truncated TLV/],
    ['indefinite length', '3080 0000', /indefinite length/],
    ['a length longer than the data', '3005 0101', /claims 5 bytes, 2 left/],
    ['a long length cut short', '3082 01', /truncated length/],
    ['a five-byte length', '3085 0000000001 00', /length of 5 bytes/],
    ['a multi-byte tag', '1f81 01 00', /multi-byte tag/],
  ];
  for (const [what, input, error] of bad) {
    test(what, () => assert.throws(() => readTlv(hex(input)), error));
  }
  test('trailing bytes after the one expected TLV', () => {
    assert.throws(() => readOnly(hex('3000 00'), TAG.sequence, 'x'), /x: trailing bytes/);
  });
  test('the wrong tag, named', () => {
    assert.throws(
      () => readOnly(hex('0400'), TAG.sequence, 'OCSPResponse'),
      /OCSPResponse: tag 0x04 where 0x30/,
    );
  });
  test('a child running past its parent', () => {
    const parent = readTlv(hex('3003 0405 00'));
    assert.throws(() => children(parent), DerError);
  });
});

test('children of a SEQUENCE come back in order, with their raw encodings', () => {
  const seq = encodeTlv(TAG.sequence, encodeTlv(TAG.integer, hex('05')), encodeTlv(TAG.null), hex('0401ff'));
  const parts = children(readOnly(seq, TAG.sequence, 'seq'));
  assert.deepEqual(
    parts.map((p) => [p.tag, p.value.toString('hex'), p.raw.toString('hex')]),
    [
      [TAG.integer, '05', '020105'],
      [TAG.null, '', '0500'],
      [TAG.octetString, 'ff', '0401ff'],
    ],
  );
});

describe('OIDs', () => {
  const cases: [string, string][] = [
    ['1.3.14.3.2.26', '06052b0e03021a'],
    ['1.3.6.1.5.5.7.48.1.1', '06092b0601050507300101'],
    ['1.2.840.10045.4.3.2', '06082a8648ce3d040302'],
    ['2.16.840.1.101.3.4.2.1', '0609608648016503040201'],
    ['0.9.2342', '0603 09 9226'],
  ];
  for (const [dotted, encoded] of cases) {
    test(dotted, () => {
      assert.equal(encodeOid(dotted).toString('hex'), encoded.replace(/\s+/g, ''));
      assert.equal(decodeOid(readTlv(hex(encoded)).value), dotted);
    });
  }
  test('a truncated arc is refused', () => assert.throws(() => decodeOid(hex('2b86')), /truncated OID/));
});

describe('small integers (ENUMERATED response status)', () => {
  const cases: [string, number][] = [
    ['00', 0],
    ['03', 3],
    ['7f', 127],
    ['0080', 128],
    ['0100', 256],
  ];
  for (const [content, value] of cases)
    test(`${content} is ${value}`, () => assert.equal(decodeSmallInt(hex(content)), value));
  test('negative and empty are refused', () => {
    assert.throws(() => decodeSmallInt(hex('ff')), DerError);
    assert.throws(() => decodeSmallInt(Buffer.alloc(0)), DerError);
  });
});

describe('GeneralizedTime', () => {
  const cases: [string, string][] = [
    ['20261202075143Z', '2026-12-02T07:51:43.000Z'],
    ['20250101000000.5Z', '2025-01-01T00:00:00.500Z'],
    ['19991231235959.123456Z', '1999-12-31T23:59:59.123Z'],
  ];
  for (const [text, iso] of cases) {
    test(text, () => assert.equal(new Date(decodeGeneralizedTime(Buffer.from(text))).toISOString(), iso));
  }
  for (const text of ['20261202075143', '261202075143Z', '20261202075143+0100']) {
    test(`${text} is refused`, () => assert.throws(() => decodeGeneralizedTime(Buffer.from(text)), DerError));
  }
});
