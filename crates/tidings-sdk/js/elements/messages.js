// Every string the elements show, per locale. Pass `messages` (any subset)
// to an element to change some; set `locale` (or the page's `lang`) to pick
// a language. Functions take the numbers or names they mention.

const en = {
  title: "Notifications",
  all: "All",
  unread: "Unread",
  archived: "Archived",
  markAllRead: "Mark all as read",
  markRead: "Mark as read",
  markUnread: "Mark as unread",
  archive: "Archive",
  unarchive: "Unarchive",
  loadMore: "Load more",
  loading: "Loading notifications…",
  empty: "No notifications yet",
  emptyUnread: "You're all caught up",
  emptyArchived: "Nothing archived",
  offline: "You are offline. These are the notifications already loaded.",
  reconnecting: "Reconnecting…",
  error: (code) => `Notifications could not be loaded (${code}).`,
  retry: "Try again",
  close: "Close",
  newNotifications: (count) => (count === 1 ? "1 new notification" : `${count} new notifications`),
  bell: (unread) => (unread === 0 ? "Notifications" : `Notifications, ${unread} unread`),
  environment: (name) => `${name} environment`,
};

const fr = {
  title: "Notifications",
  all: "Toutes",
  unread: "Non lues",
  archived: "Archivées",
  markAllRead: "Tout marquer comme lu",
  markRead: "Marquer comme lue",
  markUnread: "Marquer comme non lue",
  archive: "Archiver",
  unarchive: "Désarchiver",
  loadMore: "Afficher plus",
  loading: "Chargement des notifications…",
  empty: "Aucune notification pour l'instant",
  emptyUnread: "Vous êtes à jour",
  emptyArchived: "Aucune notification archivée",
  offline: "Vous êtes hors ligne. Voici les notifications déjà chargées.",
  reconnecting: "Reconnexion…",
  error: (code) => `Les notifications n'ont pas pu être chargées (${code}).`,
  retry: "Réessayer",
  close: "Fermer",
  newNotifications: (count) => (count === 1 ? "1 nouvelle notification" : `${count} nouvelles notifications`),
  bell: (unread) => (unread === 0 ? "Notifications" : `Notifications, ${unread} non lues`),
  environment: (name) => `environnement ${name}`,
};

/** The shipped locales: English and French. */
export const messages = { en, fr };

/** The strings for `locale` (its language, else English), with `overrides` on top. */
export function messagesFor(locale, overrides) {
  const language = String(locale ?? "en").toLowerCase().split("-")[0];
  return { ...en, ...(messages[language] ?? {}), ...(overrides ?? {}) };
}
