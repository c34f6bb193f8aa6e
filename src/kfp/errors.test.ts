/**
 * What cellpipe says for KFP's multi-user refusals, from the bodies KFP 2.17.0's own API server answered on the test
 * cluster (MULTIUSER=true, TokenReview and SubjectAccessReview by the real kube-apiserver; see
 * multi-user.kfp-stack.test.ts, which checks the same against the live server).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { KfpClient } from './client.js';
import { staticEndpoint } from './endpoint.js';
import { KfpError, httpError, type KfpRequestContext } from './errors.js';

/** `GET /apis/v2beta1/experiments?namespace=team-a` with a token of team-b's default-editor: 403. */
const DENIED = JSON.stringify({
  code: 7,
  message: "List experiments failed: Failed to authorize with API: Failed to authorize with API: PermissionDenied: User 'system:serviceaccount:team-b:default-editor' is not authorized with reason:  (request: &ResourceAttributes{Namespace:team-a,Verb:list,Group:pipelines.kubeflow.org,Version:v1beta1,Resource:experiments,Subresource:,Name:,FieldSelector:nil,LabelSelector:nil,}): Unauthorized access",
  details: [{ '@type': 'type.googleapis.com/google.rpc.Status', code: 7, message: "User 'system:serviceaccount:team-b:default-editor' is not authorized with reason:  (request: &ResourceAttributes{Namespace:team-a,Verb:list,Group:pipelines.kubeflow.org,Version:v1beta1,Resource:experiments,Subresource:,Name:,FieldSelector:nil,LabelSelector:nil,})" }],
});
/** The same without any token: 401. */
const NO_IDENTITY = JSON.stringify({
  code: 16,
  message: 'List experiments failed: Failed to authorize with API: Failed to authorize with API: Unauthenticated: Failed to check authorization. User identity is empty in the request header: Unauthenticated: Request header error: there is no user identity header.: Request header error: there is no user identity header.',
  details: [{ '@type': 'type.googleapis.com/google.rpc.Status', code: 16, message: 'Failed to check authorization. User identity is empty in the request header' }],
});
/** A token of team-a's default-editor for the API server's own audience (no --audience): 401. */
const WRONG_AUDIENCE = JSON.stringify({
  code: 16,
  message: 'List experiments failed: Failed to authorize with API: Failed to authorize with API: Unauthenticated: Failed to check authorization. User identity is empty in the request header: [Unauthenticated: Request header error: there is no user identity header.: Request header error: there is no user identity header., Authentication failure: Unauthenticated: Review.Status.Authenticated is false. Error [invalid bearer token, token audiences ["https://kubernetes.default.svc.cluster.local"] is invalid for the target audiences ["pipelines.kubeflow.org"]]: Failed to authenticate token review]',
  details: [{ '@type': 'type.googleapis.com/google.rpc.Status', code: 16, message: 'Failed to check authorization. User identity is empty in the request header' }],
});
/** `POST /apis/v2beta1/pipelines/upload?namespace=team-a` with team-b's token, and with none: 400, the reason dropped. */
const UPLOAD_REFUSED = JSON.stringify({
  error_message: 'Failed to create a pipeline',
  error_details: 'Failed to create a pipeline\ngithub.com/kubeflow/pipelines/backend/src/apiserver/server.(*PipelineUploadServer).uploadPipeline\n\tgithub.com/kubeflow/pipelines/backend/src/apiserver/server/pipeline_upload_server.go:136\nnet/http.HandlerFunc.ServeHTTP\n\tnet/http/server.go:2286\nruntime.goexit\n\truntime/asm_amd64.s:1771',
});

const ctx = (over: Partial<KfpRequestContext> = {}): KfpRequestContext => ({
  action: "look up experiment 'x'", endpoint: 'http://kfp', auth: 'bearer token from /home/u/team-b.token', namespace: 'team-a', profile: 'p', ...over,
});

describe("KFP's multi-user refusals in the user's words (bodies from KFP 2.17.0's own API server)", () => {
  test("403: the account (team-b's service account), what it may not do and where; the fix names a token of team-a and the namespace setting", () => {
    const e = httpError(403, DENIED, ctx());
    assert.equal(e.kind, 'forbidden');
    assert.equal(e.message,
      "permission denied by Kubeflow Pipelines: service account 'default-editor' of namespace 'team-b' (system:serviceaccount:team-b:default-editor) may not list experiments in namespace 'team-a' (403 while trying to look up experiment 'x')");
    assert.match(e.hint, /the token \(bearer token from \/home\/u\/team-b\.token\) is of namespace 'team-b', not 'team-a'/);
    assert.match(e.hint, /kubectl -n team-a create token default-editor --audience pipelines\.kubeflow\.org/);
    assert.match(e.hint, /set 'namespace' of profile 'p' to 'team-b'/);
    assert.match(e.hint, /add team-b\/default-editor as a contributor/);
    // A person (the user-id header a Kubeflow ingress sets) in a namespace they are not a contributor of.
    const person = httpError(403, DENIED.replace(/system:serviceaccount:team-b:default-editor/g, 'alice@example.com'), ctx());
    assert.match(person.message, /user 'alice@example\.com' may not list experiments in namespace 'team-a'/);
    assert.match(person.hint, /ask the owner of 'team-a' to add user 'alice@example\.com' as a contributor/);
  });

  test('401 without a token: the request carried none; the fix says which setting gives one, and the audience it needs', () => {
    const e = httpError(401, NO_IDENTITY, ctx({ auth: 'none' }));
    assert.equal(e.kind, 'unauthorized');
    assert.match(e.message, /needs to know who is calling \(401 Unauthorized\): it runs multi-user and the request carried no token \(auth: none of profile 'p'\)/);
    assert.match(e.hint, /'kfp\.auth: token-file' with 'kfp\.tokenFile'.*'kfp\.auth: token' with \$CELLPIPE_KFP_TOKEN/);
    assert.match(e.hint, /kubectl -n team-a create token default-editor --audience pipelines\.kubeflow\.org/);
  });

  test("401 for a token of another audience: said so, with the audience KFP's TokenReview asks for", () => {
    const e = httpError(401, WRONG_AUDIENCE, ctx());
    assert.match(e.message, /401 Unauthorized: the token is not for its audience pipelines\.kubeflow\.org/);
    assert.match(e.hint, /get a token for the audience pipelines\.kubeflow\.org/);
  });
});

describe("an upload KFP 2.17 refuses with a bare 400: KFP's verdict on the caller is read by listing pipelines there", () => {
  let server: http.Server;
  let url: string;
  let list: { status: number; body: string } = { status: 200, body: '{}' };
  before(async () => {
    server = http.createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        const path = new URL(req.url!, 'http://x').pathname;
        // upload_version's bare answer is the same with ' version' (pipeline_upload_server.go).
        const [status, body] = path.endsWith('/upload') ? [400, UPLOAD_REFUSED]
          : path.endsWith('/upload_version') ? [400, UPLOAD_REFUSED.replace(/Failed to create a pipeline/g, 'Failed to create a pipeline version')]
            : [list.status, list.body];
        res.writeHead(status, { 'Content-Type': 'application/json' }).end(body);
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => new Promise<void>((r) => server.close(() => r())));
  const yaml = 'pipelineInfo: {name: x}\n';
  const refused = async (p: Promise<unknown>): Promise<KfpError> => {
    try {
      await p;
    } catch (err) {
      assert.ok(err instanceof KfpError, String(err));
      return err;
    }
    assert.fail('expected a refusal');
  };

  test("the listing's 403 names the account and the namespace", async () => {
    list = { status: 403, body: DENIED.replace(/Resource:experiments/g, 'Resource:pipelines') };
    const client = new KfpClient(staticEndpoint(url, { token: 't', namespace: 'team-a', profile: 'p' }));
    const e = await refused(client.uploadPipeline(yaml, { name: 'x', description: 'd', namespace: 'team-a' }));
    assert.equal(e.kind, 'forbidden');
    assert.match(e.message, /service account 'default-editor' of namespace 'team-b' .* may not list pipelines in namespace 'team-a' \(403 while trying to upload pipeline 'x'\)/);
  });

  test('the listing allowed: the account may read but not create pipelines there', async () => {
    list = { status: 200, body: '{}' };
    const client = new KfpClient(staticEndpoint(url, { token: 't', namespace: 'team-a', profile: 'p' }));
    const e = await refused(client.uploadPipeline(yaml, { name: 'x', description: 'd', namespace: 'team-a' }));
    assert.equal(e.kind, 'forbidden');
    assert.match(e.message, /may read pipelines in namespace 'team-a' but not create them/);
    assert.match(e.hint, /edit access to pipelines/);
    const version = await refused(client.uploadPipelineVersion('p1', yaml, { name: 'v', description: 'd', namespace: 'team-a' }));
    assert.equal(version.kind, 'invalid');
    assert.match(version.message, /when the pipeline is gone or the account may not add versions to it/);
  });

  test('without a namespace (single-user KFP) the 400 is passed on as it is', async () => {
    const client = new KfpClient(staticEndpoint(url, { profile: 'p' }));
    const e = await refused(client.uploadPipeline(yaml, { name: 'x', description: 'd' }));
    assert.equal(e.kind, 'invalid');
    assert.match(e.message, /Failed to create a pipeline$/);
  });
});
