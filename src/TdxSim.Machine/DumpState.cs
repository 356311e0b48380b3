using System.Globalization;
using System.Text.Json;
using TdxSim.Abi;

namespace TdxSim.Machine;

/// <summary>Writes the final-state JSON of contract section 8 (<c>--dump-state PATH</c>).</summary>
public static class DumpState
{
    /// <summary>Writes <paramref name="result"/> to <paramref name="output"/>.</summary>
    public static void Write(MachineResult result, Stream output)
    {
        ArgumentNullException.ThrowIfNull(result);
        using var json = new Utf8JsonWriter(output, new JsonWriterOptions { Indented = true });
        json.WriteStartObject();

        json.WriteStartObject("exit");
        json.WriteNumber("status", result.ExitStatus);
        json.WriteString("reason", result.Reason);
        json.WriteString("detail", result.Detail);
        json.WriteEndObject();

        json.WriteStartArray("vcpus");
        foreach (VcpuFinalState v in result.Vcpus)
        {
            json.WriteStartObject();
            json.WriteNumber("index", v.Index);
            json.WriteString("state", v.State);
            json.WriteNumber("instructions", v.Instructions);
            json.WriteString("rip", Hex(v.Rip));
            json.WriteString("rflags", Hex(v.Rflags));
            for (int r = 0; r < Gprs.Count; r++)
            {
                json.WriteString(Gprs.Names[r], Hex(v.Regs[r]));
            }

            json.WriteEndObject();
        }

        json.WriteEndArray();

        json.WriteStartArray("reports");
        foreach (ulong report in result.Reports)
        {
            json.WriteStringValue(Hex(report));
        }

        json.WriteEndArray();

        json.WriteStartObject("counters");
        foreach ((string name, long value) in result.Counters)
        {
            json.WriteNumber(name, value);
        }

        json.WriteEndObject();
        json.WriteEndObject();
    }

    /// <summary>Writes the final state to a file.</summary>
    /// <exception cref="IOException">The file cannot be written.</exception>
    public static void WriteFile(MachineResult result, string path)
    {
        using FileStream file = File.Create(path);
        Write(result, file);
    }

    private static string Hex(ulong value) => "0x" + value.ToString("x", CultureInfo.InvariantCulture);
}
