using System.Globalization;
using Akka.Configuration;

namespace TdxSim.Sweep;

/// <summary>The Akka configuration of sweep nodes: in-process, coordinator (the cluster's seed node) and worker.</summary>
public static class SweepConfig
{
    /// <summary>The actor system's name on every node (part of every cluster address).</summary>
    public const string SystemName = "tdxsim-sweep";

    /// <summary>The coordinator actor's name, under <c>/user</c>.</summary>
    public const string CoordinatorName = "sweep";

    private const string Common = """
        akka {
          stdout-loglevel = OFF
          loglevel = ERROR
          loggers = ["TdxSim.Sweep.SweepLogger, TdxSim.Sweep"]
          log-config-on-start = off
          log-dead-letters = off
          log-dead-letters-during-shutdown = off
          actor {
            serializers { tdxsim-sweep = "TdxSim.Sweep.SweepSerializer, TdxSim.Sweep" }
            serialization-bindings { "TdxSim.Sweep.ISweepMessage, TdxSim.Sweep" = tdxsim-sweep }
            serialization-identifiers { "TdxSim.Sweep.SweepSerializer, TdxSim.Sweep" = 4120 }
          }
          coordinated-shutdown {
            exit-clr = off
            run-by-clr-shutdown-hook = on
          }
        }
        """;

    /// <summary>In-process sweeps: no remoting.</summary>
    public static Config Local() => ConfigurationFactory.ParseString(Common);

    /// <summary>The coordinator, listening on <paramref name="host"/>:<paramref name="port"/> and seed node of its own cluster.</summary>
    public static Config Coordinator(string host, int port) => Cluster(host, port, host, port, "coordinator");

    /// <summary>A worker on <paramref name="host"/> (any free port), joining the coordinator's cluster.</summary>
    public static Config Worker(string host, int port, string seedHost, int seedPort) => Cluster(host, port, seedHost, seedPort, "worker");

    /// <summary>The coordinator's address, <c>akka.tcp://tdxsim-sweep@HOST:PORT</c>.</summary>
    public static string Address(string host, int port) => string.Create(CultureInfo.InvariantCulture, $"akka.tcp://{SystemName}@{host}:{port}");

    private static Config Cluster(string host, int port, string seedHost, int seedPort, string role)
    {
        // The coordinator downs lost workers itself (SweepCoordinator): a split-brain resolver could down the
        // coordinator of a two-node cluster. The failure detector tolerates the pauses of a loaded machine.
        string text = string.Create(CultureInfo.InvariantCulture, $$"""
            akka {
              actor.provider = cluster
              # A node leaving a cluster whose other side is gone must not wait long for it.
              coordinated-shutdown.phases {
                cluster-leave.timeout = 2s
                cluster-exiting.timeout = 2s
              }
              remote {
                log-remote-lifecycle-events = off
                dot-netty.tcp {
                  hostname = "{{host}}"
                  public-hostname = "{{host}}"
                  port = {{port}}
                  maximum-frame-size = 16MiB
                  send-buffer-size = 1MiB
                  receive-buffer-size = 1MiB
                }
              }
              cluster {
                seed-nodes = ["{{Address(seedHost, seedPort)}}"]
                roles = ["{{role}}"]
                downing-provider-class = ""
                log-info = off
                log-info-verbose = off
                run-coordinated-shutdown-when-down = on
                failure-detector {
                  heartbeat-interval = 1s
                  acceptable-heartbeat-pause = 6s
                  threshold = 12.0
                }
                shutdown-after-unsuccessful-join-seed-nodes = off
              }
            }
            """);
        return ConfigurationFactory.ParseString(text).WithFallback(Local());
    }
}
