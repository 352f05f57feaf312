import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { CertificateBook } from './sni.ts';

describe('CertificateBook.lookup', () => {
  const book = new CertificateBook(
    [
      { hosts: ['api.example.com', 'API2.example.com.'], value: 'api' },
      { hosts: ['*.example.com'], value: 'wild' },
      { hosts: ['*.apps.example.com', 'exact.apps.example.com'], value: 'apps' },
      // Listed again: the first entry naming a host wins.
      { hosts: ['api.example.com', '*.example.com'], value: 'later' },
    ],
    'default',
  );
  const table: Array<[string | undefined, string | undefined]> = [
    ['api.example.com', 'api'],
    ['API.EXAMPLE.COM', 'api'],
    ['api.example.com.', 'api'],
    ['api2.example.com', 'api'],
    ['www.example.com', 'wild'],
    ['WWW.Example.Com.', 'wild'],
    ['a.b.example.com', 'default'],
    ['example.com', 'default'],
    ['web.apps.example.com', 'apps'],
    ['exact.apps.example.com', 'apps'],
    ['x.web.apps.example.com', 'default'],
    ['.example.com', 'default'],
    ['localhost', 'default'],
    ['', 'default'],
    [undefined, 'default'],
  ];
  for (const [name, expected] of table) {
    test(`${JSON.stringify(name)} -> ${expected}`, () => assert.equal(book.lookup(name), expected));
  }

  test('without a default an unknown name finds nothing', () => {
    const plain = new CertificateBook([{ hosts: ['a.example.com'], value: 1 }]);
    assert.equal(plain.lookup('a.example.com'), 1);
    assert.equal(plain.lookup('b.example.com'), undefined);
    assert.equal(plain.lookup(undefined), undefined);
  });

  test('counts distinct exact and wildcard names', () => {
    assert.equal(book.size, 5);
  });
});
