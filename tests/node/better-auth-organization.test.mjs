// Better Auth's own `organizationClient` against Gatehouse with the organization plugin
// (teams on): an owner creates an organization and invites two addresses; the
// invitations travel as mail over SMTP to a sink run here, the invitees read the
// link and accept or reject; roles, permissions, member paging, teams, and
// leaving are then driven and read back through the API.
//
// The shared server of tests/node/run.sh has no mail, so this suite starts its own
// (GATEHOUSE_BIN, a fresh SQLite file, GATEHOUSE_SMTP_URL pointing at the sink).
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { createServer } from "node:net";
import { test } from "node:test";

import { organizationClient } from "better-auth/client/plugins";

import { browser, listenOnLoopback, ok, refused, startGatehouse, waitFor } from "./harness.mjs";

/** An organizationClient() browser with its own cookie jar. */
const device = (base) => browser(base, [organizationClient()]).client;

// ---------------------------------------------------------------------------
// A minimal SMTP sink (RFC 5321): EHLO/HELO, MAIL, RCPT, DATA, RSET, NOOP, QUIT.

function smtpSink() {
  const mails = [];
  const sockets = new Set();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    socket.on("error", () => {});
    socket.setEncoding("utf8");
    let buffer = "";
    let from = null;
    let to = [];
    let data = null; // lines of the message while in DATA, else null
    const reply = (line) => socket.write(`${line}\r\n`);
    socket.on("data", (chunk) => {
      buffer += chunk;
      let i;
      while ((i = buffer.indexOf("\r\n")) >= 0) {
        const line = buffer.slice(0, i);
        buffer = buffer.slice(i + 2);
        if (data !== null) {
          if (line === ".") {
            mails.push({ from, to, raw: data.join("\r\n") + "\r\n" });
            data = null;
            from = null;
            to = [];
            reply("250 2.0.0 queued");
          } else {
            // Dot-unstuffing: a leading period was doubled by the sender.
            data.push(line.startsWith(".") ? line.slice(1) : line);
          }
          continue;
        }
        const verb = line.slice(0, 4).toUpperCase();
        const arg = line.slice(4);
        if (verb === "EHLO") reply("250-sink.test\r\n250 8BITMIME");
        else if (verb === "HELO") reply("250 sink.test");
        else if (verb === "MAIL" && /^ FROM:/i.test(arg)) {
          from = arg.match(/<([^>]*)>/)?.[1] ?? "";
          to = [];
          reply("250 2.1.0 OK");
        } else if (verb === "RCPT" && /^ TO:/i.test(arg)) {
          if (from === null) reply("503 5.5.1 MAIL first");
          else {
            to.push(arg.match(/<([^>]*)>/)?.[1] ?? "");
            reply("250 2.1.5 OK");
          }
        } else if (verb === "DATA" && arg === "") {
          if (to.length === 0) reply("503 5.5.1 RCPT first");
          else {
            data = [];
            reply("354 end with <CRLF>.<CRLF>");
          }
        } else if (verb === "RSET") {
          from = null;
          to = [];
          reply("250 2.0.0 OK");
        } else if (verb === "NOOP") reply("250 2.0.0 OK");
        else if (verb === "QUIT") socket.end("221 2.0.0 bye\r\n");
        else reply("502 5.5.2 not implemented");
      }
    });
    reply("220 sink.test ESMTP");
  });
  return { server, sockets, mails };
}

// ---------------------------------------------------------------------------
// Just enough MIME to read the server's mail: headers (unfolded), multipart
// bodies, and the quoted-printable / base64 / 7bit / 8bit transfer encodings.

function splitMessage(raw) {
  const end = raw.indexOf("\r\n\r\n");
  const head = end < 0 ? raw : raw.slice(0, end);
  const body = end < 0 ? "" : raw.slice(end + 4);
  const headers = {};
  for (const line of head.replace(/\r\n[ \t]+/g, " ").split("\r\n")) {
    const c = line.indexOf(":");
    if (c > 0) headers[line.slice(0, c).trim().toLowerCase()] = line.slice(c + 1).trim();
  }
  return { headers, body };
}

function decodeQuotedPrintable(text) {
  const bytes = [];
  const soft = text.replace(/[ \t]+\r\n/g, "\r\n").replace(/=\r\n/g, "");
  for (let i = 0; i < soft.length; i++) {
    const hex = soft.slice(i + 1, i + 3);
    if (soft[i] === "=" && /^[0-9A-Fa-f]{2}$/.test(hex)) {
      bytes.push(parseInt(hex, 16));
      i += 2;
    } else bytes.push(...Buffer.from(soft[i], "utf8"));
  }
  return Buffer.from(bytes).toString("utf8");
}

function decodeBody(headers, body) {
  const cte = (headers["content-transfer-encoding"] ?? "7bit").toLowerCase();
  if (cte === "quoted-printable") return decodeQuotedPrintable(body);
  if (cte === "base64") return Buffer.from(body.replace(/\s+/g, ""), "base64").toString("utf8");
  return body;
}

/** The text parts of a message by content type, e.g. { "text/plain": "...", "text/html": "..." }. */
function textParts(raw) {
  const out = {};
  const walk = (headers, body) => {
    const type = headers["content-type"] ?? "text/plain";
    const mime = type.split(";")[0].trim().toLowerCase();
    if (mime.startsWith("multipart/")) {
      const boundary = type.match(/boundary="?([^";]+)"?/i)[1];
      const sections = body.split(`--${boundary}`);
      // Between the preamble and the closing "--boundary--".
      for (const section of sections.slice(1)) {
        if (section.startsWith("--")) break;
        const part = splitMessage(section.replace(/^\r\n/, ""));
        walk(part.headers, part.body.replace(/\r\n$/, ""));
      }
    } else if (mime.startsWith("text/")) {
      out[mime] = decodeBody(headers, body);
    }
  };
  const { headers, body } = splitMessage(raw);
  walk(headers, body);
  return { headers, parts: out };
}

// ---------------------------------------------------------------------------
// The server under test.

/** Gatehouse with the organization plugin (teams on), mailing to a fresh sink; stopped after `t`. */
async function serverWithMail(t) {
  const sink = smtpSink();
  const smtpPort = await listenOnLoopback(sink.server);
  t.after(async () => {
    for (const s of sink.sockets) s.destroy();
    await new Promise((r) => sink.server.close(r));
  });
  const { url, log } = await startGatehouse(t, {
    name: "org",
    plugins: "organization",
    toml: "[organization]\nteams = true\n",
    env: { GATEHOUSE_SMTP_URL: `smtp://127.0.0.1:${smtpPort}` },
  });
  return { url, sink, log };
}

// ---------------------------------------------------------------------------

/** The Better Auth error of `r`, checked to be `status` with `code`. */
test("Better Auth organizationClient: organization, mailed invitations, roles, teams, leaving", async (t) => {
  const started = Date.now();
  const { url, sink } = await serverWithMail(t);
  const tag = randomBytes(4).toString("hex");
  const password = "organization-test-pw";
  const emailOf = (who) => `ba-org-${who}-${tag}@example.com`;

  async function signUp(who) {
    const client = device(url);
    const user = ok(await client.signUp.email({ name: `Org ${who}`, email: emailOf(who), password })).user;
    return { client, user };
  }

  /** The invitation mailed to `email`: its link and the invitation id in it. */
  async function invitationMail(email) {
    const mail = await waitFor(() => sink.mails.find((m) => m.to.includes(email)), `the invitation mail to ${email}`);
    const { headers, parts } = textParts(mail.raw);
    assert.match(headers["content-type"], /^multipart\/alternative/i);
    const text = parts["text/plain"];
    assert.ok(text, `a text/plain part in:\n${mail.raw}`);
    const link = text.match(/https?:\/\/\S+\/accept-invitation\/\S+/)?.[0];
    assert.ok(link, `an invitation link in:\n${text}`);
    assert.ok(link.startsWith(`${url}/accept-invitation/`), link);
    // The HTML part carries the same link.
    assert.ok(parts["text/html"]?.includes(`href="${link}"`), parts["text/html"]);
    const id = decodeURIComponent(new URL(link).pathname.split("/").pop());
    return { headers, text, link, id };
  }

  const owner = await signUp("owner");
  const memberUser = await signUp("member");
  const outsider = await signUp("outsider");
  let org;
  let memberInvite;
  let adminInvite;
  let ownerMemberId;
  let memberMemberId;

  await t.test("1. create, active organization, check-slug", async () => {
    const slug = `acme-${tag}`;
    org = ok(await owner.client.organization.create({ name: `Acme ${tag}`, slug }));
    assert.equal(org.name, `Acme ${tag}`);
    assert.equal(org.slug, slug);
    assert.equal(typeof org.id, "string");
    assert.equal(org.members.length, 1);
    assert.equal(org.members[0].userId, owner.user.id);
    assert.equal(org.members[0].role, "owner");
    ownerMemberId = org.members[0].id;

    const session = ok(await owner.client.getSession()).session;
    assert.equal(session.activeOrganizationId, org.id);
    // Teams on with the default team: the creator's session points at it.
    const teams = ok(await owner.client.organization.listTeams());
    assert.equal(teams.length, 1);
    assert.equal(teams[0].name, org.name);
    assert.equal(session.activeTeamId, teams[0].id);

    refused(await owner.client.organization.checkSlug({ slug }), 400, "ORGANIZATION_SLUG_ALREADY_TAKEN");
    assert.deepEqual(ok(await owner.client.organization.checkSlug({ slug: `free-${tag}` })), { status: true });
    refused(await outsider.client.organization.create({ name: "Copy", slug }), 400, "ORGANIZATION_ALREADY_EXISTS");
  });

  await t.test("2. invitations, and a duplicate refused", async () => {
    memberInvite = ok(await owner.client.organization.inviteMember({ email: emailOf("member"), role: "member" }));
    assert.equal(memberInvite.email, emailOf("member"));
    assert.equal(memberInvite.role, "member");
    assert.equal(memberInvite.status, "pending");
    assert.equal(memberInvite.organizationId, org.id);
    assert.equal(memberInvite.inviterId, owner.user.id);
    assert.ok(Date.parse(memberInvite.expiresAt) > Date.now());

    adminInvite = ok(
      await owner.client.organization.inviteMember({ email: emailOf("admin"), role: "admin", organizationId: org.id }),
    );
    assert.equal(adminInvite.role, "admin");
    assert.notEqual(adminInvite.id, memberInvite.id);

    refused(
      await owner.client.organization.inviteMember({ email: emailOf("member"), role: "member" }),
      400,
      "USER_IS_ALREADY_INVITED_TO_THIS_ORGANIZATION",
    );
    const pending = ok(await owner.client.organization.listInvitations({ query: { organizationId: org.id } }));
    assert.deepEqual(pending.map((i) => i.email).sort(), [emailOf("admin"), emailOf("member")]);
  });

  await t.test("3. invitations accepted and rejected from the mail", async () => {
    const mail = await invitationMail(emailOf("member"));
    assert.equal(mail.id, memberInvite.id);
    assert.match(mail.headers.subject, new RegExp(`Acme ${tag}`));
    assert.ok(mail.text.includes(owner.user.email), mail.text);
    assert.ok(mail.text.includes(" as member."), mail.text);
    // One mail per invitation, even with the refused duplicate.
    assert.equal(sink.mails.filter((m) => m.to.includes(emailOf("member"))).length, 1);

    const seen = ok(await memberUser.client.organization.getInvitation({ query: { id: mail.id } }));
    assert.equal(seen.organizationName, org.name);
    assert.equal(seen.organizationSlug, org.slug);
    assert.equal(seen.inviterEmail, owner.user.email);

    refused(
      await outsider.client.organization.acceptInvitation({ invitationId: mail.id }),
      403,
      "YOU_ARE_NOT_THE_RECIPIENT_OF_THE_INVITATION",
    );

    const accepted = ok(await memberUser.client.organization.acceptInvitation({ invitationId: mail.id }));
    assert.equal(accepted.invitation.id, mail.id);
    assert.equal(accepted.invitation.status, "accepted");
    assert.equal(accepted.member.userId, memberUser.user.id);
    assert.equal(accepted.member.organizationId, org.id);
    assert.equal(accepted.member.role, "member");
    memberMemberId = accepted.member.id;
    assert.equal(ok(await memberUser.client.getSession()).session.activeOrganizationId, org.id);
    // Spent: a second acceptance finds no pending invitation.
    refused(await memberUser.client.organization.acceptInvitation({ invitationId: mail.id }), 400, "INVITATION_NOT_FOUND");

    const full = ok(await owner.client.organization.getFullOrganization({ query: { organizationId: org.id } }));
    assert.equal(full.id, org.id);
    assert.equal(full.members.length, 2);
    const byUser = Object.fromEntries(full.members.map((m) => [m.userId, m]));
    assert.equal(byUser[owner.user.id].role, "owner");
    assert.equal(byUser[memberUser.user.id].role, "member");
    assert.equal(byUser[memberUser.user.id].user.email, emailOf("member"));
    assert.equal(full.teams.length, 1);

    // The admin invitee signs up after being invited, reads the mail, and declines.
    const adminUser = await signUp("admin");
    const adminMail = await invitationMail(emailOf("admin"));
    assert.equal(adminMail.id, adminInvite.id);
    assert.ok(adminMail.text.includes(" as admin."), adminMail.text);
    const rejected = ok(await adminUser.client.organization.rejectInvitation({ invitationId: adminMail.id }));
    assert.equal(rejected.invitation.id, adminMail.id);
    assert.equal(rejected.invitation.status, "rejected");
    assert.equal(rejected.member, null);
    refused(
      await adminUser.client.organization.getFullOrganization({ query: { organizationId: org.id } }),
      403,
      "USER_IS_NOT_A_MEMBER_OF_THE_ORGANIZATION",
    );
    const after = ok(await owner.client.organization.getFullOrganization({ query: { organizationId: org.id } }));
    assert.equal(after.members.length, 2);
    const status = Object.fromEntries(after.invitations.map((i) => [i.id, i.status]));
    assert.equal(status[memberInvite.id], "accepted");
    assert.equal(status[adminInvite.id], "rejected");
  });

  await t.test("4. roles, permissions, member paging", async () => {
    const memberCan = async (client) =>
      ok(await client.organization.hasPermission({ permissions: { member: ["delete"] } }));
    assert.deepEqual(await memberCan(memberUser.client), { error: null, success: false });
    assert.deepEqual(await memberCan(owner.client), { error: null, success: true });

    // A plain member can neither make itself owner nor touch the owner.
    refused(
      await memberUser.client.organization.updateMemberRole({ memberId: memberMemberId, role: "owner" }),
      403,
      "YOU_ARE_NOT_ALLOWED_TO_UPDATE_THIS_MEMBER",
    );
    refused(
      await memberUser.client.organization.updateMemberRole({ memberId: ownerMemberId, role: "member" }),
      403,
      "YOU_ARE_NOT_ALLOWED_TO_UPDATE_THIS_MEMBER",
    );
    const promoted = ok(await owner.client.organization.updateMemberRole({ memberId: memberMemberId, role: "admin" }));
    assert.equal(promoted.id, memberMemberId);
    assert.equal(promoted.role, "admin");
    assert.deepEqual(
      ok(await memberUser.client.organization.getActiveMemberRole()),
      { role: "admin" },
    );
    assert.deepEqual(await memberCan(memberUser.client), { error: null, success: true });
    // An admin has no organization:delete; the owner has.
    const canDelete = async (client) =>
      ok(await client.organization.hasPermission({ permissions: { organization: ["delete"] } })).success;
    assert.equal(await canDelete(memberUser.client), false);
    assert.equal(await canDelete(owner.client), true);
    // Not a member: 401, as Better Auth answers has-permission.
    refused(
      await outsider.client.organization.hasPermission({ organizationId: org.id, permissions: { member: ["delete"] } }),
      401,
      "USER_IS_NOT_A_MEMBER_OF_THE_ORGANIZATION",
    );

    const page = async (offset) =>
      ok(
        await owner.client.organization.listMembers({
          query: { limit: 1, offset, sortBy: "createdAt", sortDirection: "asc" },
        }),
      );
    const first = await page(0);
    assert.equal(first.total, 2);
    assert.equal(first.members.length, 1);
    assert.equal(first.members[0].userId, owner.user.id);
    assert.equal(first.members[0].user.email, owner.user.email);
    const second = await page(1);
    assert.equal(second.total, 2);
    assert.equal(second.members.length, 1);
    assert.equal(second.members[0].userId, memberUser.user.id);
    assert.equal(second.members[0].role, "admin");
    const beyond = await page(2);
    assert.deepEqual(beyond, { members: [], total: 2 });
  });

  let team;
  await t.test("5. teams", async () => {
    team = ok(await owner.client.organization.createTeam({ name: "Platform" }));
    assert.equal(team.name, "Platform");
    assert.equal(team.organizationId, org.id);
    const added = ok(await owner.client.organization.addTeamMember({ teamId: team.id, userId: memberUser.user.id }));
    assert.equal(added.teamId, team.id);
    assert.equal(added.userId, memberUser.user.id);
    ok(await owner.client.organization.addTeamMember({ teamId: team.id, userId: owner.user.id }));
    // Not a member of the organization: refused.
    refused(
      await owner.client.organization.addTeamMember({ teamId: team.id, userId: outsider.user.id }),
      400,
      "USER_IS_NOT_A_MEMBER_OF_THE_ORGANIZATION",
    );

    const listed = ok(await memberUser.client.organization.listTeamMembers({ query: { teamId: team.id } }));
    assert.deepEqual(listed.map((m) => m.userId).sort(), [memberUser.user.id, owner.user.id].sort());
    assert.ok(listed.every((m) => m.teamId === team.id));

    assert.equal(ok(await memberUser.client.getSession()).session.activeTeamId ?? null, null);
    const active = ok(await memberUser.client.organization.setActiveTeam({ teamId: team.id }));
    assert.equal(active.id, team.id);
    assert.equal(ok(await memberUser.client.getSession()).session.activeTeamId, team.id);
    // With an active team, list-team-members defaults to it.
    const viaActive = ok(await memberUser.client.organization.listTeamMembers());
    assert.equal(viaActive.length, 2);
    // The default team holds only the owner: the member may not make it active.
    const defaultTeam = ok(await owner.client.organization.listTeams()).find((x) => x.id !== team.id);
    refused(
      await memberUser.client.organization.setActiveTeam({ teamId: defaultTeam.id }),
      403,
      "USER_IS_NOT_A_MEMBER_OF_THE_TEAM",
    );
    assert.equal(ok(await memberUser.client.organization.setActiveTeam({ teamId: null })), null);
    assert.equal(ok(await memberUser.client.getSession()).session.activeTeamId ?? null, null);
  });

  await t.test("6. leaving", async () => {
    const left = ok(await memberUser.client.organization.leave({ organizationId: org.id }));
    assert.equal(left.id, memberMemberId);
    assert.equal(left.userId, memberUser.user.id);
    assert.equal(ok(await memberUser.client.getSession()).session.activeOrganizationId ?? null, null);

    refused(
      await owner.client.organization.leave({ organizationId: org.id }),
      400,
      "YOU_CANNOT_LEAVE_THE_ORGANIZATION_AS_THE_ONLY_OWNER",
    );
    const full = ok(await owner.client.organization.getFullOrganization());
    assert.equal(full.id, org.id);
    assert.deepEqual(
      full.members.map((m) => [m.userId, m.role]),
      [[owner.user.id, "owner"]],
    );
    assert.deepEqual(ok(await owner.client.organization.list()).map((o) => o.id), [org.id]);
    assert.deepEqual(ok(await memberUser.client.organization.list()), []);

    // A former member and a stranger are refused the organization.
    for (const who of [memberUser, outsider]) {
      refused(
        await who.client.organization.getFullOrganization({ query: { organizationId: org.id } }),
        403,
        "USER_IS_NOT_A_MEMBER_OF_THE_ORGANIZATION",
      );
    }
    refused(
      await memberUser.client.organization.listMembers({ query: { organizationId: org.id } }),
      403,
      "YOU_ARE_NOT_A_MEMBER_OF_THIS_ORGANIZATION",
    );
  });

  t.diagnostic(`organization suite took ${Date.now() - started} ms`);
});
