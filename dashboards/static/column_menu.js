/* The menu of a table page's column (Datasette 0.65's table.js builds it, in English, naming no
   column) in words, Japanese first: the column's heading on top (the th's data-column-heading, as
   the table heads it), its items translated, and no SQL type. Loaded after table.js (defer). */
(function () {
  var WORDS = {
    "Sort ascending": "小さい順に並べる / Sort ascending",
    "Sort descending": "大きい順に並べる / Sort descending",
    "Facet by this": "この列の値で数える / Count by this column",
    "Hide this column": "この列を隠す / Hide this column",
    "Show all columns": "すべての列を表示 / Show all columns",
    "Show not-blank rows": "空でない行だけ / Rows where it is not blank",
  };
  var menu = document.querySelector("body > div.dropdown-menu");
  if (!menu) return;
  var heading = document.createElement("p");
  heading.className = "dropdown-column-heading";
  menu.insertBefore(heading, menu.querySelector("ul"));
  menu.querySelectorAll("a").forEach(function (a) {
    if (WORDS[a.textContent]) a.textContent = WORDS[a.textContent];
  });
  document.querySelectorAll(".rows-and-columns th .dropdown-menu-icon").forEach(function (icon) {
    icon.addEventListener("click", function (ev) {  // after table.js's own listener has filled the menu
      var th = ev.target.closest("th");
      heading.textContent = th.dataset.columnHeading || th.dataset.column;
      menu.querySelector(".dropdown-column-type").style.display = "none";
    });
  });
})();
