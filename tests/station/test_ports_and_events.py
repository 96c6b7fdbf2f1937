"""Port lists (given, from a file, found on USB) and the event stream's delivery rules."""

from __future__ import annotations

import json
import threading
from io import StringIO
from pathlib import Path
from types import SimpleNamespace

import jsonschema
import pytest

from fusebook import api
from fusebook.errors import InputError
from fusebook.station.events import STATES, EventStream, JsonLinesSink, UnitEvent
from fusebook.station.ports import known_devices, parse_auto, read_ports_file, resolve_ports

ROOT = Path(__file__).resolve().parents[2]

USB = [
    SimpleNamespace(device="/dev/ttyUSB1", vid=0x10C4, pid=0xEA60),  # CP2102
    SimpleNamespace(device="/dev/ttyACM0", vid=0x303A, pid=0x1001),  # USB-Serial/JTAG
    SimpleNamespace(device="/dev/ttyUSB0", vid=0x1A86, pid=0x7523),  # CH340
    SimpleNamespace(device="/dev/ttyS0", vid=None, pid=None),  # a board's own UART
    SimpleNamespace(device="/dev/ttyACM1", vid=0x2341, pid=0x0043),  # an Arduino
]


def test_auto_takes_every_known_bridge_and_espressif_device_only() -> None:
    assert resolve_ports(auto="auto", comports=lambda: USB) == ["/dev/ttyACM0", "/dev/ttyUSB0", "/dev/ttyUSB1"]
    assert resolve_ports(auto="auto:10c4:EA60", comports=lambda: USB) == ["/dev/ttyUSB1"]
    with pytest.raises(InputError, match="no USB serial port"):
        resolve_ports(auto="auto:dead:beef", comports=lambda: USB)


def test_the_known_devices_are_data_with_espressif_by_vendor() -> None:
    devices = known_devices()
    assert any(d.vid == 0x303A and d.pid is None for d in devices)
    assert len({(d.vid, d.pid) for d in devices}) == len(devices)


@pytest.mark.parametrize("spec", ["auto:", "auto:10c4", "auto:10c4:", "manual", "auto:1:2:3", "auto:g:1"])
def test_a_malformed_auto_spec_is_invalid_input(spec: str) -> None:
    with pytest.raises(InputError):
        parse_auto(spec)


def test_ports_from_a_file_with_comments_given_ports_first_each_once(tmp_path: Path) -> None:
    f = tmp_path / "ports"
    f.write_text("# line 1\nsocket://127.0.0.1:5001  # left fixture\n\n/dev/ttyUSB0\nsocket://127.0.0.1:5001\n")
    assert read_ports_file(f) == ["socket://127.0.0.1:5001", "/dev/ttyUSB0", "socket://127.0.0.1:5001"]
    assert resolve_ports(["/dev/ttyUSB0"], f) == ["/dev/ttyUSB0", "socket://127.0.0.1:5001"]
    with pytest.raises(InputError, match="no ports"):
        resolve_ports([], None, None)
    f.write_text("/dev/ttyUSB0 /dev/ttyUSB1\n")
    with pytest.raises(InputError) as e:
        read_ports_file(f)
    assert e.value.location is not None and e.value.location.line == 1


def test_every_listener_hears_every_event_in_order_and_a_broken_one_is_dropped() -> None:
    stream = EventStream()
    heard: list[int] = []
    out = StringIO()

    def broken(event: UnitEvent) -> None:
        raise RuntimeError("a consumer's bug")

    stream.subscribe(broken)
    stream.subscribe(lambda e: heard.append(e.seq))
    unsubscribe = stream.subscribe(JsonLinesSink(out))

    def worker(port: str) -> None:
        for unit in range(1, 51):
            stream.publish(station="h:1", port=port, unit=unit, state="waiting")

    threads = [threading.Thread(target=worker, args=(f"p{n}",)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    unsubscribe()
    stream.publish(station="h:1", port="p0", unit=51, state="waiting")
    assert heard == list(range(1, 202))
    lines = out.getvalue().splitlines()
    assert [json.loads(x)["seq"] for x in lines] == list(range(1, 201))
    assert len(stream.errors) == 1


def test_the_schema_describes_exactly_the_event_fields_and_states() -> None:
    schema = json.loads((ROOT / "schemas" / "station-event.schema.json").read_text())
    event = UnitEvent(seq=1, time="2026-01-01T00:00:00.000Z", station="h:1", port="p", unit=1, state="ok",
                      exit_code=0, outcome="ok")
    assert set(schema["properties"]) == set(event.to_json()) == set(schema["required"])
    assert tuple(schema["properties"]["state"]["enum"]) == STATES
    jsonschema.validate(event.to_json(), schema)
    with pytest.raises(jsonschema.ValidationError):  # an ok unit has exit 0
        jsonschema.validate({**event.to_json(), "exit_code": 5}, schema)
    with pytest.raises(jsonschema.ValidationError):  # no field the schema does not know (a key, say)
        jsonschema.validate({**event.to_json(), "key": "00"}, schema)
    assert api.UnitEvent is UnitEvent and api.EventStream is EventStream
