"""The tray icon as a desktop shell sees it, over the test's private D-Bus session.

On Linux the app's tray is a StatusNotifierItem (libayatana-appindicator) with its menu
exported over com.canonical.dbusmenu. A desktop shell runs the StatusNotifierWatcher the item
registers with; here `Watcher` plays that part (a thread answering on the session bus), so the
test can read the item's properties and menu and click its entries as a user would.
"""

import threading

from jeepney import DBusAddress, MessageType, new_error, new_method_call, new_method_return
from jeepney.bus_messages import message_bus
from jeepney.io.blocking import open_dbus_connection

WATCHER = "org.kde.StatusNotifierWatcher"
ITEM = "org.kde.StatusNotifierItem"
MENU = "com.canonical.dbusmenu"
PROPS = "org.freedesktop.DBus.Properties"


class Watcher(threading.Thread):
    """Owns org.kde.StatusNotifierWatcher and records the items that register."""

    def __init__(self):
        super().__init__(daemon=True)
        self.conn = open_dbus_connection(bus="SESSION")
        reply = self.conn.send_and_get_reply(message_bus.RequestName(WATCHER))
        if reply.body[0] != 1:
            raise RuntimeError(f"cannot own {WATCHER} (answer {reply.body[0]})")
        self.items = []  # (bus name, object path)
        self.lock = threading.Lock()
        self.stopped = False

    def run(self):
        while not self.stopped:
            try:
                msg = self.conn.receive(timeout=0.5)
            except TimeoutError:
                continue
            except OSError:
                return
            if msg.header.message_type == MessageType.method_call:
                self.conn.send(self.answer(msg))

    def answer(self, msg):
        h = msg.header.fields
        iface, member = h.get(2), h.get(3)  # HeaderFields.interface, .member
        sender = h.get(7)
        if member == "RegisterStatusNotifierItem":
            where = msg.body[0]
            item = (sender, where) if where.startswith("/") else (where, "/StatusNotifierItem")
            with self.lock:
                # An item registers again when its icon changes: kept once, newest last.
                if item in self.items:
                    self.items.remove(item)
                self.items.append(item)
            return new_method_return(msg)
        if member == "RegisterStatusNotifierHost":
            return new_method_return(msg)
        if iface == PROPS and member in ("Get", "GetAll"):
            props = {
                "IsStatusNotifierHostRegistered": ("b", True),
                "ProtocolVersion": ("i", 0),
                "RegisteredStatusNotifierItems": ("as", [f"{s}{p}" for s, p in self.items]),
            }
            if member == "Get":
                return new_method_return(msg, "v", (props[msg.body[1]],))
            return new_method_return(msg, "a{sv}", (props,))
        if member == "Introspect":
            return new_method_return(msg, "s", ("<node/>",))
        return new_error(msg, "org.freedesktop.DBus.Error.UnknownMethod", "s", (f"{iface}.{member}",))

    def registered(self):
        with self.lock:
            return list(self.items)

    def stop(self):
        self.stopped = True


class Tray:
    """One registered item: its properties and its menu."""

    def __init__(self, name, path):
        self.conn = open_dbus_connection(bus="SESSION")
        self.item = DBusAddress(path, bus_name=name, interface=ITEM)
        self.name = name

    def props(self):
        msg = new_method_call(DBusAddress(self.item.object_path, bus_name=self.name, interface=PROPS),
                              "GetAll", "s", (ITEM,))
        reply = self.conn.send_and_get_reply(msg, timeout=5)
        return {k: v[1] for k, v in reply.body[0].items()}

    def _menu(self):
        return DBusAddress(self.props()["Menu"], bus_name=self.name, interface=MENU)

    def menu(self):
        """The menu's entries, depth first: [(id, label, enabled)] (separators left out)."""
        reply = self.conn.send_and_get_reply(new_method_call(self._menu(), "GetLayout", "iias", (0, -1, [])), timeout=5)
        entries = []

        def walk(node):
            ident, props, children = node
            label = props.get("label", ("s", ""))[1]
            if ident != 0 and props.get("type", ("s", ""))[1] != "separator":
                entries.append((ident, label.replace("_", ""), props.get("enabled", ("b", True))[1]))
            for child in children:
                walk(child[1])

        walk(reply.body[1])
        return entries

    def click(self, label_start):
        """Clicks the first enabled entry whose label starts with `label_start`."""
        for ident, label, enabled in self.menu():
            if label.startswith(label_start) and enabled:
                self.conn.send_and_get_reply(
                    new_method_call(self._menu(), "Event", "isvu", (ident, "clicked", ("s", ""), 0)), timeout=5)
                return label
        return None

    def close(self):
        self.conn.close()


def png_centre(path):
    """The (r, g, b) of the centre pixel of an 8-bit RGBA PNG (what tray-icon writes)."""
    import struct
    import zlib

    data = open(path, "rb").read()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", path
    pos, idat, width, height = 8, b"", 0, 0
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        chunk = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            width, height, depth, colour = struct.unpack(">IIBB", chunk[:10])
            assert (depth, colour) == (8, 6), f"not 8-bit RGBA: {depth}, {colour}"
        elif kind == b"IDAT":
            idat += chunk
        pos += 12 + length
    raw, stride, rows, prev = zlib.decompress(idat), width * 4, [], bytearray(width * 4)
    for y in range(height):
        f, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - 4] if i >= 4 else 0
            b = prev[i]
            c = prev[i - 4] if i >= 4 else 0
            if f == 1:
                line[i] = (line[i] + a) & 255
            elif f == 2:
                line[i] = (line[i] + b) & 255
            elif f == 3:
                line[i] = (line[i] + (a + b) // 2) & 255
            elif f == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        rows.append(line)
        prev = line
    px = rows[height // 2][(width // 2) * 4:(width // 2) * 4 + 3]
    return tuple(px)
