import type * as grpc from '@grpc/grpc-js';

// grpc-js handler shapes, loosened to plain objects because messages come from the proto loader.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Msg = any;

export type UnaryHandler = (call: grpc.ServerUnaryCall<Msg, Msg>) => Promise<Msg>;
export type ServerStreamHandler = (call: grpc.ServerWritableStream<Msg, Msg>) => Promise<void>;
export type ClientStreamHandler = (call: grpc.ServerReadableStream<Msg, Msg>) => Promise<Msg>;
export type BidiHandler = (call: grpc.ServerDuplexStream<Msg, Msg>) => Promise<void>;

/**
 * Our handlers are async functions: unary/client-stream ones resolve to the response message,
 * streaming ones resolve when they have written everything. Core adapts them to grpc-js callbacks
 * and maps thrown errors through the catalog in one place (server.ts).
 */
export type GrpcHandler = UnaryHandler | ServerStreamHandler | ClientStreamHandler | BidiHandler;
