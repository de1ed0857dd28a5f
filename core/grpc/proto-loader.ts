import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { join } from 'node:path';
import { PROTO_DIR } from '../paths.js';

// One set of loader options for every proto file, so field names stay snake_case as on the wire
// and 64-bit integers never lose precision (they arrive as decimal strings).
export const PROTO_LOADER_OPTIONS: protoLoader.Options = {
  keepCase: true,
  longs: String,
  enums: String,
  defaults: true,
  oneofs: true,
  includeDirs: [PROTO_DIR],
};

export const PROTO_FILES = ['volume_server.proto', 'master.proto', 'remote.proto', 'filer.proto'];

let cached: grpc.GrpcObject | undefined;

/** Loads our own .proto files once and returns the grpc package object. */
export function loadProtos(): grpc.GrpcObject {
  if (!cached) {
    const def = protoLoader.loadSync(PROTO_FILES.map((f) => join(PROTO_DIR, f)), PROTO_LOADER_OPTIONS);
    cached = grpc.loadPackageDefinition(def);
  }
  return cached;
}

export function volumeServerService(): grpc.ServiceDefinition {
  const pkg = loadProtos().volume_server_pb as grpc.GrpcObject;
  return (pkg.VolumeServer as grpc.ServiceClientConstructor).service;
}

export function masterClientConstructor(): grpc.ServiceClientConstructor {
  const pkg = loadProtos().master_pb as grpc.GrpcObject;
  return pkg.Seaweed as grpc.ServiceClientConstructor;
}

export function volumeServerClientConstructor(): grpc.ServiceClientConstructor {
  const pkg = loadProtos().volume_server_pb as grpc.GrpcObject;
  return pkg.VolumeServer as grpc.ServiceClientConstructor;
}

export function filerClientConstructor(): grpc.ServiceClientConstructor {
  const pkg = loadProtos().filer_pb as grpc.GrpcObject;
  return pkg.SeaweedFiler as grpc.ServiceClientConstructor;
}
