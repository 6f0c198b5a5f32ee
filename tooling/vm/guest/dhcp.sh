#!/bin/sh
# busybox udhcpc's script: applies the lease it got from passt and reports it
# on the console (udhcpc's own output goes to a log).
case "$1" in
  deconfig)
    ip -4 addr flush dev "$interface"
    ip link set dev "$interface" up
    ;;
  bound|renew)
    [ -n "$mtu" ] && ip link set dev "$interface" mtu "$mtu"
    ip -4 addr flush dev "$interface"
    ip -4 addr add "$ip/$mask" dev "$interface"
    for r in $router; do ip -4 route replace default via "$r" dev "$interface"; break; done
    : > /etc/resolv.conf
    for d in $dns; do echo "nameserver $d" >> /etc/resolv.conf; done
    echo "$dns" > /tmp/dns4
    gt report dhcp "ip=$ip" "mask=$mask" "router=$router" "dns=$dns" "domain=$domain" "search=$search" \
      "mtu=$mtu" "lease=$lease" "serverid=$serverid" > /dev/console
    ;;
esac
exit 0
