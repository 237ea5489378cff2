// analytics.cc: hokmctl analytics [VIEW] [--limit N] [--json]: the
// analytics views (schemas/postgres/002_analytics.sql: player_performance,
// game_statistics_summary, active_sessions, leaderboard; 008: node_summary) read where reads
// may lag: the read replica when --pg-read-url / HOKM_PG_READ_URL is given,
// else the primary (ctl.h, PgReadUrl). The views read only derived tables,
// so a replica a few seconds behind answers what the primary answered a few
// seconds ago; the output says which server answered and, for a replica,
// its replay lag (sidecar/replica_monitor.h, kReplicaStatusSql).
//
// Exit: 0 read; 1 the server is down or a view is missing (migrations not
// applied); 2 usage. JSON: {"server": "host:port/db", "replica": bool,
// "replica_lag_seconds": number|null, "views": {VIEW: [row objects]}}.
#include <cstdio>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "ctl/ctl.h"
#include "ctl/stores.h"
#include "sidecar/replica_monitor.h"

namespace hokm::ctl {
namespace {

using nlohmann::json;

struct View {
  const char* name;
  const char* order;  // a stable order for --limit
};
constexpr View kViews[] = {
    {"game_statistics_summary", ""},
    {"leaderboard", " ORDER BY rank, player_id"},
    {"player_performance", " ORDER BY player_id"},
    {"active_sessions", " ORDER BY game_id"},
    {"node_summary", " ORDER BY node_id"},
};

// A cell as text: JSON strings bare, null as "-", anything else as JSON.
std::string Cell(const json& v) {
  if (v.is_null()) return "-";
  if (v.is_string()) return v.get<std::string>();
  return v.dump();
}

void PrintView(const char* name, const json& rows) {
  std::printf("analytics.%s (%zu row(s))\n", name, rows.size());
  if (rows.empty()) return;
  std::vector<std::string> columns;
  for (const auto& [column, value] : rows[0].items()) columns.push_back(column);
  for (const std::string& c : columns) std::printf("  %s", c.c_str());
  std::printf("\n");
  for (const json& row : rows) {
    for (const std::string& c : columns)
      std::printf("  %s", Cell(row.value(c, json(nullptr))).c_str());
    std::printf("\n");
  }
}

}  // namespace

std::vector<std::string> AnalyticsViews() {
  std::vector<std::string> names;
  for (const View& v : kViews) names.emplace_back(v.name);
  return names;
}

int RunAnalytics(const Globals& globals, const AnalyticsArgs& args) {
  std::vector<const View*> views;
  for (const View& v : kViews) {
    if (args.view.empty() || args.view == v.name) views.push_back(&v);
  }
  if (views.empty()) {
    std::string known;
    for (const View& v : kViews) known += std::string(known.empty() ? "" : ", ") + v.name;
    return Fail(kExitUsage, "analytics: no view \"" + args.view + "\" (" + known + ")");
  }
  const std::optional<sidecar::PgUrl> url = PgReadUrlOf(globals);
  if (!url) return kExitUsage;
  auto conn = ConnectPg(*url);
  if (!conn.ok()) return Fail(kExitProblems, conn.status().message());
  const std::string server = url->HostPort() + "/" + url->dbname();
  json out{{"server", server}, {"views", json::object()}};
  try {
    pqxx::read_transaction tx(**conn);
    // The server's own word on whether it is a standby, and its lag ($1,
    // the primary's position, unknown here: the lag in bytes stays null).
    const pqxx::result result =
        tx.exec_params(sidecar::kReplicaStatusSql, static_cast<const char*>(nullptr));
    const pqxx::row status = result[0];
    out["replica"] = status[0].as<bool>();
    out["replica_lag_seconds"] = status[1].is_null() ? json(nullptr) : json(status[1].as<double>());
    const std::string limit = args.limit > 0 ? " LIMIT " + std::to_string(args.limit) : "";
    for (const View* v : views) {
      json rows = json::array();
      // row_to_json keeps the columns' types (numbers stay numbers).
      for (const auto& r : tx.exec(std::string("SELECT row_to_json(v)::text FROM (SELECT * FROM "
                                               "analytics.") +
                                   v->name + v->order + limit + ") v")) {
        rows.push_back(json::parse(r[0].c_str()));
      }
      out["views"][v->name] = std::move(rows);
    }
  } catch (const std::exception& e) {
    return Fail(kExitProblems, "analytics at " + server + ": " + e.what());
  }
  if (args.json) {
    std::printf("%s\n", out.dump(2).c_str());
    return kExitOk;
  }
  if (out["replica"].get<bool>()) {
    std::printf("server %s: a read replica, replay lag %s s\n", server.c_str(),
                Cell(out["replica_lag_seconds"]).c_str());
  } else {
    std::printf("server %s: the primary\n", server.c_str());
  }
  for (const View* v : views) PrintView(v->name, out["views"][v->name]);
  return kExitOk;
}

}  // namespace hokm::ctl
