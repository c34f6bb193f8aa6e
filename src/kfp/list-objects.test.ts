import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseListObjects, parseS3Error, xmlText } from './list-objects.js';

/** A ListObjectsV2 answer as S3-compatible stores write it (namespace, owner, storage class included). */
const LISTING = `<?xml version="1.0" encoding="UTF-8"?>
<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>mlpipeline</Name><Prefix>v2/artifacts/p/r/train/</Prefix><KeyCount>2</KeyCount><MaxKeys>1000</MaxKeys><IsTruncated>false</IsTruncated>
  <Contents><Key>v2/artifacts/p/r/train/5b9e/executor-logs-0</Key><LastModified>2026-12-07T10:00:04.000Z</LastModified><ETag>&quot;d41d8cd98f00b204e9800998ecf8427e&quot;</ETag><Size>1873</Size><Owner><ID>0</ID><DisplayName>kubeflow-admin</DisplayName></Owner><StorageClass>STANDARD</StorageClass></Contents>
  <Contents><Key>v2/artifacts/p/r/train/5b9e/model</Key><LastModified>2026-12-07T10:00:05.000Z</LastModified><Size>0</Size></Contents>
</ListBucketResult>`;

test('a listing: each object with its key, time and size; KeyCount is not a key', () => {
  assert.deepEqual(parseListObjects(LISTING), {
    objects: [
      { key: 'v2/artifacts/p/r/train/5b9e/executor-logs-0', lastModified: '2026-12-07T10:00:04.000Z', size: 1873 },
      { key: 'v2/artifacts/p/r/train/5b9e/model', lastModified: '2026-12-07T10:00:05.000Z', size: 0 },
    ],
  });
});

test('a cut listing says where to go on; an empty one has no objects', () => {
  const cut = parseListObjects('<ListBucketResult><IsTruncated>true</IsTruncated><Contents><Key>a</Key></Contents><NextContinuationToken>tok/+=&amp;1</NextContinuationToken></ListBucketResult>');
  assert.deepEqual(cut, { objects: [{ key: 'a', lastModified: undefined }], next: 'tok/+=&1' });
  assert.deepEqual(parseListObjects('<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><KeyCount>0</KeyCount><IsTruncated>false</IsTruncated></ListBucketResult>'), { objects: [] });
});

test('keys are XML text: entities, character references and CDATA are read as XML means them', () => {
  assert.equal(xmlText('a&amp;b &lt;c&gt; &quot;d&quot; &apos;e&apos; &#233;&#x263A;'), 'a&b <c> "d" \'e\' é☺');
  assert.equal(xmlText('<![CDATA[x&amp;<y>]]>'), 'x&amp;<y>');
  assert.equal(xmlText('&unknown;'), '&unknown;', 'an entity XML does not define stays as it was');
  const [o] = parseListObjects('<ListBucketResult><Contents><Key>p/R&amp;D &lt;v2&gt;/executor-logs-0</Key></Contents></ListBucketResult>').objects;
  assert.equal(o.key, 'p/R&D <v2>/executor-logs-0');
});

test('a page that is no listing (a proxy\'s login page, say) is an error, not an empty listing', () => {
  assert.throws(() => parseListObjects('<html><body>Sign in</body></html>'), /not an S3 object listing: <html><body>Sign in/);
});

test("an S3 error document gives its code and message; other bodies are not one", () => {
  const body = '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>SignatureDoesNotMatch</Code><Message>The request signature we calculated does not match the signature you provided.</Message><Resource>/mlpipeline</Resource><RequestId>1</RequestId></Error>';
  assert.deepEqual(parseS3Error(body), { code: 'SignatureDoesNotMatch', message: 'The request signature we calculated does not match the signature you provided.' });
  assert.equal(parseS3Error('Bad Gateway'), undefined);
});
