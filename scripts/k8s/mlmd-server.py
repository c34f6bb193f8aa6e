"""ML Metadata's gRPC service for the test cluster's Kubeflow stack (`cluster.sh start --kfp`).

The `ml-metadata` wheel ships MLMD's C++ store (the pywrap extension) and the service's descriptors, but no server
(upstream's metadata_store_server is a separate C++ binary, not published for this platform). Its pywrap module has
one function per RPC taking and returning serialized protos, so a generic gRPC handler forwards every method of
`ml_metadata.MetadataStoreService` to the store unchanged: requests and responses are never parsed here.
Three methods are missing from the pywrap module (GetParentContextsByContexts, GetChildrenContextsByContexts,
GetLineageGraph); KFP 2.17 calls none of them, and they answer UNIMPLEMENTED.

Run with the virtualenv kfp-build.sh makes (protobuf < 5, kept apart from .venv):
  mlmd/bin/python mlmd-server.py --host 10.201.0.1 --port 8080 --sqlite /path/to/mlmd.sqlite
"""
import argparse
import signal
import sys
import threading
from concurrent import futures

import grpc
from ml_metadata.metadata_store.pywrap.metadata_store_extension import metadata_store as pywrap
from ml_metadata.proto import metadata_store_pb2, metadata_store_service_pb2

SERVICE = 'ml_metadata.MetadataStoreService'


def open_store(sqlite_path):
    config = metadata_store_pb2.ConnectionConfig()
    config.sqlite.filename_uri = sqlite_path
    config.sqlite.connection_mode = metadata_store_pb2.SqliteMetadataSourceConfig.READWRITE_OPENCREATE
    migration = metadata_store_pb2.MigrationOptions(enable_upgrade_migration=True)
    return pywrap.CreateMetadataStore(config.SerializeToString(), migration.SerializeToString())


def handlers(store):
    # The store is one SQLite connection: one call at a time.
    lock = threading.Lock()
    methods = {}
    for method in metadata_store_service_pb2.DESCRIPTOR.services_by_name['MetadataStoreService'].methods:
        fn = getattr(pywrap, method.name, None)

        def call(request, context, fn=fn, name=method.name):
            if fn is None:
                context.abort(grpc.StatusCode.UNIMPLEMENTED, f'{name} is not in the ml-metadata wheel\'s store')
            with lock:
                response, error, code = fn(store, request)
            if code != 0:
                # MLMD's status codes are absl's, numbered as gRPC's.
                context.abort(grpc.StatusCode(next(s for s in grpc.StatusCode if s.value[0] == code).value),
                              error.decode('utf-8', 'replace'))
            return response

        # No (de)serializers: bytes in, bytes out.
        methods[method.name] = grpc.unary_unary_rpc_method_handler(call)
    return grpc.method_handlers_generic_handler(SERVICE, methods)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--host', default='127.0.0.1')
    parser.add_argument('--port', type=int, default=8080)
    parser.add_argument('--sqlite', required=True)
    args = parser.parse_args()
    store = open_store(args.sqlite)
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=8),
                         options=[('grpc.max_receive_message_length', 64 << 20),
                                  ('grpc.max_send_message_length', 64 << 20)])
    server.add_generic_rpc_handlers((handlers(store),))
    server.add_insecure_port(f'{args.host}:{args.port}')
    server.start()
    print(f'mlmd-server: ready on {args.host}:{args.port} (sqlite {args.sqlite})', file=sys.stderr, flush=True)
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    signal.signal(signal.SIGINT, lambda *_: done.set())
    done.wait()
    server.stop(1).wait()


if __name__ == '__main__':
    main()
