"""The Envoy configuration docs/TEAM.md documents: agents' traffic through the ext_proc filter
(request bodies BUFFERED, answers FULL_DUPLEX_STREAMED, failure_mode_allow false) to Crust
replicas, then to the provider."""
import sys

def config(listen_port, crust_ports, upstream_port, admin_port=0, request_body_mode="BUFFERED", plain_port=None):
    """`plain_port`: a second listener without the ext_proc filter (Envoy alone, for the bench)."""
    eps = "\n".join(
        f"""        - endpoint: {{address: {{socket_address: {{address: 127.0.0.1, port_value: {p}}}}}}}"""
        for p in crust_ports)
    plain = "" if plain_port is None else f"""
  - name: plain
    address: {{socket_address: {{address: 127.0.0.1, port_value: {plain_port}}}}}
    filter_chains:
    - filters:
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          stat_prefix: plain
          route_config:
            virtual_hosts:
            - name: provider
              domains: ["*"]
              routes:
              - match: {{prefix: "/"}}
                route: {{cluster: provider, timeout: 600s}}
          http_filters:
          - name: envoy.filters.http.router
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router"""
    return f"""
admin:
  address: {{socket_address: {{address: 127.0.0.1, port_value: {admin_port}}}}}
static_resources:
  listeners:
  - name: agents
    address: {{socket_address: {{address: 127.0.0.1, port_value: {listen_port}}}}}
    per_connection_buffer_limit_bytes: 33554432
    filter_chains:
    - filters:
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          stat_prefix: agents
          stream_idle_timeout: 600s
          route_config:
            virtual_hosts:
            - name: provider
              domains: ["*"]
              routes:
              - match: {{prefix: "/"}}
                route: {{cluster: provider, timeout: 600s}}
          http_filters:
          - name: envoy.filters.http.ext_proc
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.filters.http.ext_proc.v3.ExternalProcessor
              grpc_service:
                envoy_grpc: {{cluster_name: crust}}
                timeout: 600s
              failure_mode_allow: false
              message_timeout: 120s
              max_message_timeout: 600s
              processing_mode:
                request_header_mode: SEND
                request_body_mode: {request_body_mode}
                request_trailer_mode: SKIP
                response_header_mode: SEND
                response_body_mode: FULL_DUPLEX_STREAMED
                response_trailer_mode: SEND
          - name: envoy.filters.http.router
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router{plain}
  clusters:
  - name: crust
    type: STATIC
    lb_policy: ROUND_ROBIN
    connect_timeout: 2s
    typed_extension_protocol_options:
      envoy.extensions.upstreams.http.v3.HttpProtocolOptions:
        "@type": type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions
        explicit_http_config: {{http2_protocol_options: {{}}}}
    load_assignment:
      cluster_name: crust
      endpoints:
      - lb_endpoints:
{eps}
  - name: provider
    type: STATIC
    connect_timeout: 2s
    load_assignment:
      cluster_name: provider
      endpoints:
      - lb_endpoints:
        - endpoint: {{address: {{socket_address: {{address: 127.0.0.1, port_value: {upstream_port}}}}}}}
"""

if __name__ == "__main__":
    # LISTEN CRUST_PORTS UPSTREAM [PLAIN]
    plain = int(sys.argv[4]) if len(sys.argv) > 4 else None
    print(config(int(sys.argv[1]), [int(x) for x in sys.argv[2].split(",")], int(sys.argv[3]), plain_port=plain))
